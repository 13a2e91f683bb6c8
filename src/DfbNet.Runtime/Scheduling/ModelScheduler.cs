using DfbNet.Core;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.Scheduling;

/// <summary>
/// One model's scheduler: frames of every stream wait in per-stage queues (<see cref="StageBatcher"/>), executor threads
/// take batches from them, run each on its stage (<see cref="StageExecutor"/>), hand the logits to each frame's
/// <see cref="FrameEvaluation"/>, send its events to its sink, and queue the frames that go on at the next stage, so
/// that batches shrink at each exit. Executors are dedicated threads: a stage run is synchronous native work that
/// would otherwise hold thread-pool threads the network needs. An idle executor blocks; it does not spin.
/// </summary>
internal sealed class ModelScheduler : IDisposable
{
    private readonly object _gate = new();
    private readonly StageBatcher _batcher;
    private readonly StageExecutor _executor;
    private readonly IFrameCompletion _completion;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly int _classCount;
    private long _batches;
    private readonly int _maxBatch;
    private readonly Thread[] _threads;
    private long _sequence;
    private bool _stopping;
    private readonly int _niceness;

    public ModelScheduler(string model, StageExecutor executor, int[] maxBatch, SchedulerOptions options, int classCount, IFrameCompletion completion, TimeProvider clock, ILogger logger)
    {
        _executor = executor;
        _completion = completion;
        _clock = clock;
        _logger = logger;
        _classCount = classCount;
        _maxBatch = maxBatch.Max();
        MaxBatch = maxBatch;
        _batcher = new StageBatcher(maxBatch, options.MaxQueueDelay, clock, completion.Estimate);
        _niceness = options.ExecutorNiceness;
        _threads = new Thread[options.ResolvedExecutors];
        for (var i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(RunExecutor) { IsBackground = true, Name = $"dfbnet {model} executor {i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>The largest batch of each stage.</summary>
    public IReadOnlyList<int> MaxBatch { get; }

    /// <summary>Executor threads.</summary>
    public int Executors => _threads.Length;

    /// <summary>Frames waiting in the stage queues now.</summary>
    public int Queued
    {
        get
        {
            lock (_gate)
            {
                return _batcher.Count;
            }
        }
    }

    /// <summary>Queues a frame at its next stage.</summary>
    public void Enqueue(ScheduledFrame frame)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopping, this);
            EnqueueLocked(frame);
        }
    }

    /// <summary>Stops the executors once every queued frame has been run (frames keep their promise of a final event).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            _stopping = true;
            Monitor.PulseAll(_gate);
        }

        foreach (var thread in _threads)
        {
            thread.Join();
        }
    }

    private void RunExecutor()
    {
        var batch = new List<ScheduledFrame>(_maxBatch);
        var cut = new List<ScheduledFrame>();
        var cancelled = new List<ScheduledFrame>();
        var events = new List<ExitEvent>(2);
        var logits = new float[_maxBatch * _classCount];
        var runOptions = new RunOptions();
        Internal.ThreadNiceness.TryLowerCurrentThread(_niceness);
        try
        {
            while (true)
            {
                int stage;
                lock (_gate)
                {
                    while (true)
                    {
                        stage = _batcher.TakeBatch(batch, cut, cancelled, out var wait);
                        if (stage >= 0 || cut.Count > 0 || cancelled.Count > 0)
                        {
                            break;
                        }

                        if (_stopping && _batcher.Count == 0)
                        {
                            return;
                        }

                        Monitor.Wait(_gate, wait);
                    }
                }

                foreach (var frame in cut)
                {
                    _completion.Finish(frame, frame.Evaluation.CutByBudget());
                }

                foreach (var frame in cancelled)
                {
                    _completion.Abandon(frame);
                }

                cut.Clear();
                cancelled.Clear();
                if (stage >= 0)
                {
                    runOptions = RunBatch(stage, batch, logits, events, runOptions);
                    batch.Clear();
                }
            }
        }
        finally
        {
            runOptions.Dispose();
        }
    }

    private RunOptions RunBatch(int stage, List<ScheduledFrame> batch, float[] logits, List<ExitEvent> events, RunOptions runOptions)
    {
        var start = _clock.GetTimestamp();
        foreach (var frame in batch)
        {
            if (frame.Evaluation.ExitsComputed == 0)
            {
                frame.Evaluation.QueueTime = _clock.GetElapsedTime(frame.Evaluation.StartTimestamp, start);
            }
        }

        Exception? failure = null;
        var registration = default(CancellationTokenRegistration);
        try
        {
            // A lone frame's cancellation stops its run (ONNX Runtime's terminate flag); a batch runs for all its frames.
            if (batch.Count == 1 && _executor.Path != StageDataPath.Captured)
            {
                registration = batch[0].CancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
            }

            _executor.Run(stage, batch, logits, runOptions);
        }
        catch (Exception ex)
        {
            // Whatever went wrong, the batch's frames each get a final event: an executor thread never dies of a run.
            failure = ex;
        }
        finally
        {
            registration.Dispose();
        }

        var elapsed = _clock.GetElapsedTime(start);
        if (runOptions.Terminate)
        {
            // A terminated RunOptions is not reused: resetting the flag races with a late cancellation callback.
            runOptions.Dispose();
            runOptions = new RunOptions();
        }

        if (failure is not null)
        {
            foreach (var frame in batch)
            {
                if (frame.CancellationToken.IsCancellationRequested)
                {
                    _completion.Abandon(frame);
                }
                else
                {
                    RuntimeLog.FrameFailed(_logger, failure, frame.Request.FrameId, stage + 1);
                    _completion.Finish(frame, FrameEvaluation.Failed(frame.Request.FrameId, FrameErrorCode.Internal, $"Stage {stage + 1} failed: {failure.Message}", frame.Evaluation.Elapsed, frame.Evaluation.ExitsComputed));
                }
            }

            return runOptions;
        }

        _completion.RecordStage(stage, batch, elapsed, Interlocked.Increment(ref _batches));
        for (var i = 0; i < batch.Count; i++)
        {
            var frame = batch[i];
            frame.Inference += elapsed;
            events.Clear();
            frame.Evaluation.CompleteStage(logits.AsSpan(i * _classCount, _classCount), events);
            ExitEvent? final = null;
            foreach (var e in events)
            {
                if (e.IsFinal)
                {
                    final = e;
                }
                else
                {
                    frame.Sink.OnEvent(e);
                }
            }

            if (final is not null)
            {
                _completion.Finish(frame, final);
            }
            else if (frame.CancellationToken.IsCancellationRequested)
            {
                _completion.Abandon(frame);
            }
            else
            {
                // On to the next stage, also while stopping: an accepted frame runs to its final event.
                lock (_gate)
                {
                    EnqueueLocked(frame);
                }
            }
        }

        return runOptions;
    }

    private void EnqueueLocked(ScheduledFrame frame)
    {
        frame.Sequence = _sequence++;
        _batcher.Enqueue(frame);
        Monitor.Pulse(_gate);
    }
}

/// <summary>What the scheduler needs from its engine: estimates, and the bookkeeping of stage runs and of frames that end.</summary>
internal interface IFrameCompletion
{
    /// <summary>The expected time of a run of (stage, batch size) on the stage's current provider.</summary>
    TimeSpan Estimate(int stage, int batch);

    /// <summary>A batch ran: latency estimates, statistics, metrics, the frames' stage spans (<paramref name="batchId"/>
    /// tells the runs of a model apart).</summary>
    void RecordStage(int stage, List<ScheduledFrame> batch, TimeSpan elapsed, long batchId);

    /// <summary>The frame's final event: release its tensors and admission, count it, then tell its sink.</summary>
    void Finish(ScheduledFrame frame, ExitEvent final);

    /// <summary>The frame's caller cancelled: release it without an event.</summary>
    void Abandon(ScheduledFrame frame);
}
