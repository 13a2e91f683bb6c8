using System.Diagnostics;
using System.Globalization;
using Grpc.Core;

namespace DfbNet.Cli.Load;

/// <summary>
/// One open-loop run at one total rate: opens <see cref="LoadOptions.Streams"/> streams, and on each a writer that sends
/// frames at their scheduled times whatever comes back and a reader that records events as they come; prints a progress
/// line a second; after the schedule, waits up to <see cref="LoadOptions.Drain"/> for the last answers, then cancels what
/// is left. Every wait is bounded by that deadline.
/// </summary>
internal sealed class LoadRunner(ILoadProtocol protocol, FrameSet frames, LoadOptions options, string server, string model, string mode, TextWriter progress, IBatchStatistics? statistics = null)
{
    /// <summary>Time between opening the streams and the first due frame, so that every writer is waiting when it comes.</summary>
    private static readonly TimeSpan Lead = TimeSpan.FromMilliseconds(50);

    public async Task<LoadResult> RunAsync(double totalRate, CancellationToken cancellationToken)
    {
        var perStream = totalRate / options.Streams;
        var warmup = options.Warmup.TotalSeconds;
        var horizon = warmup + options.Duration.TotalSeconds;
        var schedules = Enumerable.Range(0, options.Streams)
            .Select(i => OpenLoopSchedule.Arrivals(options.Arrivals, perStream, i, options.Streams, options.Seed, horizon))
            .ToArray();
        var scheduled = schedules.Sum(s => s.Count(t => t >= warmup));

        using var calls = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var streams = new List<ILoadStream>(options.Streams);
        try
        {
            for (var i = 0; i < options.Streams; i++)
            {
                streams.Add(await protocol.OpenAsync(calls.Token));
            }

            var start = Stopwatch.GetTimestamp() + Ticks(Lead);
            var windowStart = start + Ticks(options.Warmup);
            var windowEnd = windowStart + Ticks(options.Duration);
            calls.CancelAfter(Lead + options.Warmup + options.Duration + options.Drain);
            var recorder = new LoadRecorder(windowStart, windowEnd);
            await using var pacer = new FramePacer(schedules, start);
            pacer.Start(calls.Token);

            var readers = streams.Select((s, i) => ReadAsync(s, i, recorder, calls.Token)).ToArray();
            var writers = streams.Select((s, i) => WriteAsync(s, i, schedules[i], pacer, warmup, recorder, calls.Token)).ToArray();
            var cpu = SampleCpuAsync(windowStart, windowEnd, calls.Token);
            using var stopMemory = new CancellationTokenSource();
            var memory = SampleMemoryAsync(windowStart, stopMemory.Token);
            var batches = SampleBatchesAsync(windowStart, windowEnd, calls.Token);
            using var stopProgress = new CancellationTokenSource();
            var ticker = ReportProgressAsync(recorder, start, windowStart, windowEnd, stopProgress.Token);

            await Task.WhenAll(writers);
            await Task.WhenAll(readers);
            await stopProgress.CancelAsync();
            await ticker;
            await stopMemory.CancelAsync();
            var serverMemory = await memory;
            cancellationToken.ThrowIfCancellationRequested();

            var (serverCpu, clientCpu) = await cpu;
            var settings = Settings(totalRate, perStream);
            var answers = recorder.AnswersInWindow;
            ServerCpu? serverUsage = serverCpu is { } s && options.ServerPid is { } pid
                ? new ServerCpu(pid, s.TotalMilliseconds, s.TotalSeconds / options.Duration.TotalSeconds, answers == 0 ? null : s.TotalMilliseconds / answers)
                : null;
            return recorder.Summarize(settings, scheduled, serverUsage, clientCpu) with { ServerBatches = await batches, ServerMemory = serverMemory };
        }
        finally
        {
            await calls.CancelAsync();
            foreach (var stream in streams)
            {
                await stream.DisposeAsync();
            }
        }
    }

    private LoadRunSettings Settings(double totalRate, double perStream) => new(
        protocol.Name,
        server,
        model,
        options.Streams,
        totalRate,
        perStream,
        options.Arrivals.ToString().ToLowerInvariant(),
        options.Seed,
        options.Duration.TotalSeconds,
        options.Warmup.TotalSeconds,
        options.Drain.TotalSeconds,
        options.BudgetsMs,
        mode,
        options.QueuePolicy switch
        {
            Protocol.V1.QueuePolicy.Queue => "queue",
            Protocol.V1.QueuePolicy.Latest => "latest",
            _ => "server default",
        },
        options.AlwaysAnswer,
        options.Format.ToString().ToLowerInvariant(),
        frames.Source,
        frames.Count,
        frames.MeanBytes);

    /// <summary>
    /// Sends the stream's frames at their times. A frame is never written before it is due; one written late (the
    /// previous write waited for HTTP/2 flow control, or the pacer woke late) is still timed from when it was due.
    /// </summary>
    private async Task WriteAsync(ILoadStream stream, int index, double[] times, FramePacer pacer, double warmup, LoadRecorder recorder, CancellationToken cancellationToken)
    {
        // Streams start at different images, so that they do not all send the same one at the same moment.
        var offset = index * Math.Max(1, frames.Count / options.Streams);
        var budgets = options.BudgetsMs;
        var bad = new Random(HashCode.Combine(options.Seed, index));
        var badSent = index;
        try
        {
            for (var seq = 0; seq < times.Length; seq++)
            {
                await pacer.WaitAsync(index, cancellationToken);
                var due = pacer.Due(index, seq);
                var id = string.Create(CultureInfo.InvariantCulture, $"{index}-{seq}");
                var frame = frames.BadCount > 0 && bad.NextDouble() < options.BadShare
                    ? frames.GoodCount + (badSent++ % frames.BadCount)
                    : (offset + seq) % frames.Count;
                var budget = budgets[seq % budgets.Count];
                recorder.Scheduled(id, due, times[seq] >= warmup, budget, frames.Frames[frame].Label, frames.Frames[frame].BadKind);
                var writeStarted = Stopwatch.GetTimestamp();
                await stream.WriteAsync(frame, id, budget, cancellationToken);
                recorder.Written(id, writeStarted, Stopwatch.GetTimestamp());
            }

            await stream.CompleteAsync();
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException or InvalidOperationException)
        {
            // The drain ended with frames still to write, or the call ended (its reader reports why): the frames not
            // written count as unsent.
        }
    }

    private async Task ReadAsync(ILoadStream stream, int index, LoadRecorder recorder, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var e in stream.ReadAllAsync(cancellationToken))
            {
                recorder.Event(e, Stopwatch.GetTimestamp());
            }
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested && ex is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
        {
            // The end of the drain (or Ctrl+C): frames still unanswered have no final event, and are reported so.
        }
        catch (RpcException ex)
        {
            recorder.StreamFailed(ex.StatusCode.ToString());
            await progress.WriteLineAsync($"dfbnet load: stream {index} failed: {ex.StatusCode}: {ex.Status.Detail}");
        }
    }

    /// <summary>The model's stage runs by batch size during the measured window.</summary>
    private async Task<ServerBatches?> SampleBatchesAsync(long windowStart, long windowEnd, CancellationToken cancellationToken)
    {
        if (statistics is null)
        {
            return null;
        }

        try
        {
            await DelayUntil(windowStart, cancellationToken);
            var before = await statistics.ReadAsync(cancellationToken);
            await DelayUntil(windowEnd, cancellationToken);
            return IBatchStatistics.Difference(before, await statistics.ReadAsync(cancellationToken));
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>CPU used during the measured window: the server's (with --server-pid) and this process's.</summary>
    private async Task<(TimeSpan? Server, TimeSpan Client)> SampleCpuAsync(long windowStart, long windowEnd, CancellationToken cancellationToken)
    {
        try
        {
            await DelayUntil(windowStart, cancellationToken);
            var server0 = ReadServer();
            var client0 = ProcessCpu.Own();
            await DelayUntil(windowEnd, cancellationToken);
            var server1 = ReadServer();
            var client1 = ProcessCpu.Own();
            return (server1 - server0, client1 - client0);
        }
        catch (OperationCanceledException)
        {
            return (null, TimeSpan.Zero);
        }

        TimeSpan? ReadServer() => options.ServerPid is { } pid && ProcessCpu.TryReadProcessCpu(pid, out var cpu, out _) ? cpu : null;
    }

    /// <summary>The server's resident memory (with --server-pid), once a second from the end of the warm-up (the server has
    /// met every kind of frame by then) until the last answer: where it started, where it ended and its peak.</summary>
    private async Task<ServerMemory?> SampleMemoryAsync(long windowStart, CancellationToken cancellationToken)
    {
        if (options.ServerPid is not { } pid || !ProcessCpu.TryReadRss(pid, out _))
        {
            return null;
        }

        try
        {
            await DelayUntil(windowStart, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return null;
        }

        if (!ProcessCpu.TryReadRss(pid, out var start))
        {
            return null;
        }

        var peak = start;
        var last = start;
        var samples = 1;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (ProcessCpu.TryReadRss(pid, out var rss))
                {
                    (last, peak, samples) = (rss, Math.Max(peak, rss), samples + 1);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The run is over.
        }

        if (ProcessCpu.TryReadRss(pid, out var end))
        {
            (last, peak, samples) = (end, Math.Max(peak, end), samples + 1);
        }

        return new ServerMemory(pid, start / 1048576.0, last / 1048576.0, peak / 1048576.0, samples);
    }

    private async Task ReportProgressAsync(LoadRecorder recorder, long start, long windowStart, long windowEnd, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var now = Stopwatch.GetTimestamp();
                var (sent, answered, refused, p99) = recorder.Progress();
                var phase = now < windowStart ? "warm-up" : now < windowEnd ? "measuring" : "draining";
                var tail = double.IsNaN(p99) ? "-" : string.Create(CultureInfo.InvariantCulture, $"{p99:0.00} ms");
                await progress.WriteLineAsync(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{Stopwatch.GetElapsedTime(start, now).TotalSeconds,6:0.0} s  {phase,-9}  sent {sent}  answered {answered}  refused {refused}  p99 (last second) {tail}"));
            }
        }
        catch (OperationCanceledException)
        {
            // The run is over.
        }
    }

    private static async Task DelayUntil(long timestamp, CancellationToken cancellationToken)
    {
        var wait = timestamp - Stopwatch.GetTimestamp();
        if (wait > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(wait * 1000.0 / Stopwatch.Frequency)), cancellationToken);
        }
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);
}
