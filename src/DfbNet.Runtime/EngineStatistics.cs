namespace DfbNet.Runtime;

/// <summary>Cumulative counts and durations of one model's frames, for the statistics endpoints. Thread-safe.</summary>
public sealed class EngineStatistics
{
    private long _successCount;
    private long _successTicks;
    private long _failCount;
    private long _failTicks;
    private long _inputCount;
    private long _inputTicks;
    private long _inferCount;
    private long _inferTicks;
    private long _executions;
    private long _queueTicks;
    private long _batchedFrames;

    // Stage runs and their time by batch size (index), as Triton's batch_stats; the last slot gathers larger batches.
    private readonly long[] _runsByBatch = new long[MaxTrackedBatch + 1];
    private readonly long[] _ticksByBatch = new long[MaxTrackedBatch + 1];

    /// <summary>Batch sizes above this are counted together at this size.</summary>
    public const int MaxTrackedBatch = 1024;
    private long _lastInferenceUnixMs;

    /// <summary>A consistent-enough copy of the counters (each read atomically).</summary>
    public EngineStatisticsSnapshot Snapshot() => new(
        Interlocked.Read(ref _successCount), TimeSpan.FromTicks(Interlocked.Read(ref _successTicks)),
        Interlocked.Read(ref _failCount), TimeSpan.FromTicks(Interlocked.Read(ref _failTicks)),
        Interlocked.Read(ref _inputCount), TimeSpan.FromTicks(Interlocked.Read(ref _inputTicks)),
        Interlocked.Read(ref _inferCount), TimeSpan.FromTicks(Interlocked.Read(ref _inferTicks)),
        Interlocked.Read(ref _executions),
        Interlocked.Read(ref _lastInferenceUnixMs),
        TimeSpan.FromTicks(Interlocked.Read(ref _queueTicks)),
        Interlocked.Read(ref _batchedFrames));

    internal void RecordInput(TimeSpan elapsed)
    {
        Interlocked.Increment(ref _inputCount);
        Interlocked.Add(ref _inputTicks, elapsed.Ticks);
    }

    /// <summary>One stage run over <paramref name="batch"/> frames.</summary>
    internal void RecordStage(int batch, TimeSpan elapsed)
    {
        Interlocked.Increment(ref _executions);
        Interlocked.Add(ref _batchedFrames, batch);
        var slot = Math.Min(batch, MaxTrackedBatch);
        Interlocked.Increment(ref _runsByBatch[slot]);
        Interlocked.Add(ref _ticksByBatch[slot], elapsed.Ticks);
    }

    /// <summary>Stage runs so far by batch size: (batch size, runs, their total time), sizes that ran at least once.</summary>
    public IReadOnlyList<(int BatchSize, long Runs, TimeSpan Time)> RunsByBatchSize()
    {
        var result = new List<(int, long, TimeSpan)>();
        for (var b = 1; b <= MaxTrackedBatch; b++)
        {
            var runs = Interlocked.Read(ref _runsByBatch[b]);
            if (runs > 0)
            {
                result.Add((b, runs, TimeSpan.FromTicks(Interlocked.Read(ref _ticksByBatch[b]))));
            }
        }

        return result;
    }

    internal void RecordFrame(bool success, TimeSpan total, TimeSpan inference, TimeSpan queue, DateTimeOffset now)
    {
        if (success)
        {
            Interlocked.Add(ref _queueTicks, queue.Ticks);
            Interlocked.Increment(ref _successCount);
            Interlocked.Add(ref _successTicks, total.Ticks);
            Interlocked.Increment(ref _inferCount);
            Interlocked.Add(ref _inferTicks, inference.Ticks);
        }
        else
        {
            Interlocked.Increment(ref _failCount);
            Interlocked.Add(ref _failTicks, total.Ticks);
        }

        Interlocked.Exchange(ref _lastInferenceUnixMs, now.ToUnixTimeMilliseconds());
    }
}

/// <summary>Counters of <see cref="EngineStatistics"/> at one moment. <see cref="QueueTime"/> is the total wait of
/// successful frames before their first stage; <see cref="StageFrames"/> / <see cref="StageExecutions"/> is the mean batch.</summary>
public sealed record EngineStatisticsSnapshot(
    long SuccessCount,
    TimeSpan SuccessTime,
    long FailCount,
    TimeSpan FailTime,
    long InputCount,
    TimeSpan InputTime,
    long InferCount,
    TimeSpan InferTime,
    long StageExecutions,
    long LastInferenceUnixMs,
    TimeSpan QueueTime,
    long StageFrames);
