using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using DfbNet.Core;
using DfbNet.Core.Manifest;
using DfbNet.Runtime.ExecutionProviders;
using DfbNet.Runtime.Internal;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Runtime.Scheduling;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime;

/// <summary>
/// Serves one DFB-Net: one session per stage, each stage's trunk feature handed to the next, Algorithm 1 with modes and
/// a latency budget. Frames of every caller are admitted against one bound (<see cref="Admission"/>), queue at each
/// stage, and run there in batches across callers (a scheduler per model); per-frame state lives in
/// <see cref="FrameEvaluation"/>, outside the stage runners. Events are delivered the moment they exist.
/// </summary>
public sealed class EarlyExitEngine : IDisposable, IFrameCompletion
{
    /// <summary>Frames without a budget queue as if their deadline were this far off, behind budgeted ones of their time.</summary>
    private static readonly TimeSpan UnbudgetedHorizon = TimeSpan.FromMilliseconds(100);

    private readonly StageRunner[] _stages;
    private readonly ImagePreprocessor _preprocessor;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, StageLatencyEstimator> _latency = new(StringComparer.Ordinal);
    private readonly ModelScheduler _scheduler;
    private int _inFlight;
    private long _completed;
    private long _cancelled;
    private bool _disposed;

    internal EarlyExitEngine(string name, string folder, ModelManifest manifest, StageRunner[] stages, EngineOptions options, ILogger logger)
    {
        Name = name;
        Folder = folder;
        Manifest = manifest;
        _stages = stages;
        _clock = options.Clock;
        _logger = logger;
        _preprocessor = new ImagePreprocessor(manifest.Input, options.MaxImagePixels);
        DecodeBudget = options.DecodeBudget;
        CapturesGraphs = stages.Length > 0 && stages.All(st => st.CapturesGraph);
        UsesIoBinding = !CapturesGraphs && (options.UseIoBinding ?? stages.Any(st => st.UsesDeviceMemory));
        Policies = new ModelPolicies(name, manifest, options.Scheduler.QualityLadder, logger);
        Admission = new ModelAdmission(options.Scheduler.MaxAdmittedFrames, options.Scheduler.MaxExpectedWait, options.Scheduler.ResolvedExecutors, _clock);
        var executor = new StageExecutor(stages, CapturesGraphs ? StageDataPath.Captured : UsesIoBinding ? StageDataPath.Bound : StageDataPath.Host);
        var maxBatch = stages.Select(st => executor.MaxBatch(st.Index, options.Scheduler.MaxBatchSize)).ToArray();
        _scheduler = new ModelScheduler(name, executor, maxBatch, options.Scheduler, manifest.Classes.Count, this, _clock, logger);
    }

    /// <summary>The model's name (its folder name).</summary>
    public string Name { get; }

    public string Folder { get; }

    public ModelManifest Manifest { get; }

    public IReadOnlyList<string> Classes => Manifest.Classes;

    /// <summary>M.</summary>
    public int ExitCount => _stages.Length;

    public IReadOnlyList<StageRunner> Stages => _stages;

    /// <summary>The running per-stage, per-batch-size latency estimates of the stages' chosen providers.</summary>
    public StageLatencyEstimator Latency => LatencyFor(_stages[0].PrimaryProvider);

    /// <summary>The bound on this model's admitted frames, and its counts.</summary>
    public ModelAdmission Admission { get; }

    /// <summary>The largest batch each stage runs (1 where its model has a fixed batch dimension or its data path does
    /// not batch).</summary>
    public IReadOnlyList<int> MaxBatchSizes => _scheduler.MaxBatch;

    /// <summary>Frames waiting in the stage queues now.</summary>
    public int QueuedFrames => _scheduler.Queued;

    /// <summary>Threads that run this model's batches.</summary>
    public int Executors => _scheduler.Executors;

    /// <summary>The thresholds of the manifest's default preset.</summary>
    public ExitPolicy DefaultPolicy => Policies.Default;

    /// <summary>The model's presets, request thresholds, and the quality ladder.</summary>
    public ModelPolicies Policies { get; }

    /// <summary>True when features are handed between stages as bound OrtValues (they stay on the device).</summary>
    public bool UsesIoBinding { get; }

    /// <summary>True when every stage replays a captured graph (CUDA graphs); features then stay on the device in pooled
    /// buffers and only the logits come back.</summary>
    public bool CapturesGraphs { get; }

    /// <summary>The provider of the stages; "CPU+CUDA" style when stages differ.</summary>
    public string ExecutionProvider => string.Join("+", _stages.Select(s => s.Provider).Distinct());

    public ImagePreprocessor Preprocessor => _preprocessor;

    /// <summary>The memory that image decodes may hold at once, shared with the other engines of the same options (a
    /// server's models).</summary>
    public DecodeMemoryBudget DecodeBudget { get; }

    /// <summary>Frames submitted and not yet ended (queued or running).</summary>
    public int InFlightFrames => Volatile.Read(ref _inFlight);

    /// <summary>Frames that produced their final event.</summary>
    public long FramesCompleted => Interlocked.Read(ref _completed);

    /// <summary>Cumulative counts and durations (statistics endpoints).</summary>
    public EngineStatistics Statistics { get; } = new();

    /// <summary>Frames abandoned because their caller cancelled.</summary>
    public long FramesCancelled => Interlocked.Read(ref _cancelled);

    /// <summary>Loads a model folder: validates the manifest, opens every stage on the provider chain, checks that
    /// stage shapes chain, and warms each stage up to seed the latency estimates.</summary>
    /// <exception cref="ManifestException">The manifest or a stage model does not match; the message names the field.</exception>
    /// <param name="modelFolder">The folder holding manifest.json and the stage files.</param>
    /// <param name="options">Providers, threads, scheduling; the defaults when null.</param>
    /// <param name="logger">Load and run logs; none when null.</param>
    /// <param name="name">The model's name; the folder's name when null (a versioned folder, <c>models/NAME/2</c>, names its parent's).</param>
    public static EarlyExitEngine Load(string modelFolder, EngineOptions? options = null, ILogger? logger = null, string? name = null) =>
        EngineLoader.Load(modelFolder, options ?? new EngineOptions(), logger ?? NullLogger.Instance, name);

    /// <summary>Resolves a request's thresholds: explicit values win, then a preset name, then the default preset.</summary>
    /// <exception cref="ArgumentException">Unknown preset, wrong count or a value outside [0, 1].</exception>
    public ExitPolicy ResolvePolicy(string? preset, IReadOnlyList<float>? thresholds) => Policies.Resolve(preset, thresholds);

    /// <summary>Classifies one frame, yielding each event as soon as it exists; the last one is final.</summary>
    /// <remarks>A façade over the scheduler for one frame: it is admitted (or refused with a final
    /// <see cref="FrameErrorCode.Unavailable"/> error event), queued with every other caller's frames, batched with them
    /// at each stage, and its events come back here. A bad image yields one <see cref="ExitKind.Error"/> event rather
    /// than throwing. Cancellation abandons the frame (a frame running alone has its stage stopped) and throws
    /// <see cref="OperationCanceledException"/>.</remarks>
    public async IAsyncEnumerable<ExitEvent> ClassifyAsync(FrameRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckPolicy(request);
        cancellationToken.ThrowIfCancellationRequested();

        if (!Admission.TryAdmit(null, out var refusal))
        {
            yield return Refused(request, refusal);
            yield break;
        }

        // A frame yields at most one event per exit and a fused one: the channel never fills, so the executor never waits.
        var sink = new ChannelEventSink(ExitCount + 1);
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var final = false;
        try
        {
            Submit(request, sink, null, abandon.Token);
            while (await sink.Reader.WaitToReadAsync(cancellationToken))
            {
                while (sink.Reader.TryRead(out var e))
                {
                    // Events already made are not handed to a caller that has cancelled.
                    cancellationToken.ThrowIfCancellationRequested();
                    final = e.IsFinal;
                    yield return e;
                    if (final)
                    {
                        yield break;
                    }
                }
            }

            // Completed without a final event: the frame was abandoned for its cancellation.
            cancellationToken.ThrowIfCancellationRequested();
            throw new OperationCanceledException("The frame was cancelled.");
        }
        finally
        {
            if (!final)
            {
                // The caller stopped reading: the scheduler drops the frame at its next step.
                await abandon.CancelAsync();
            }
        }
    }

    /// <summary>
    /// Submits a frame whose admission slot the caller holds (<see cref="ModelAdmission.TryAdmit"/> with the same
    /// <paramref name="client"/>): it is decoded, on the calling thread when <see cref="DecodeBudget"/> has room for it
    /// (else, without blocking the caller, once it has), then queued at stage 1. Its events, the last one
    /// final, go to <paramref name="sink"/> on the scheduler's threads; the slot is given back with the final event (or
    /// when cancellation abandons the frame, with <see cref="IFrameEventSink.OnCancelled"/> instead).
    /// </summary>
    public void Submit(FrameRequest request, IFrameEventSink sink, AdmissionClient? client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(sink);
        Interlocked.Increment(ref _inFlight);

        // From here on the frame ends with a final event (or OnCancelled) whatever happens: its slot is given back then.
        var requested = request.Policy.ExitCount == ExitCount ? request.Policy : DefaultPolicy;
        var policy = Policies.ForLoad(requested, (double)(Admission.Admitted - 1) / Admission.LoadBound);
        var evaluation = new FrameEvaluation(request.FrameId, policy, Classes.Count, request.Mode, request.Budget, _clock, request.ReceivedTimestamp, request.AlwaysAnswer);
        var frame = new ScheduledFrame(request, evaluation, sink, client, cancellationToken)
        {
            Activity = RuntimeTracing.StartFrame(Name, request, evaluation.Elapsed),
        };
        if (cancellationToken.IsCancellationRequested)
        {
            Abandon(frame);
            return;
        }

        if (_disposed || !ReferenceEquals(requested, request.Policy))
        {
            var message = _disposed ? $"Model '{Name}' is shutting down." : $"The policy has {request.Policy.ExitCount} thresholds; model '{Name}' has {ExitCount} exits.";
            Finish(frame, FrameEvaluation.Failed(request.FrameId, _disposed ? FrameErrorCode.Unavailable : FrameErrorCode.InvalidArgument, message, evaluation.Elapsed));
            return;
        }

        long decodeBytes;
        try
        {
            decodeBytes = _preprocessor.DecodeBytes(request.Image);
        }
        catch (InvalidImageException ex)
        {
            Finish(frame, Rejected(request, ex));
            return;
        }

        if (!DecodeBudget.Fits(decodeBytes))
        {
            // It could never fit, so it is refused now rather than waiting for ever: a limit, as MaxImagePixels is.
            Finish(frame, Rejected(request, FrameErrorCode.ResourceExhausted, DecodeBudget.RefusalMessage(decodeBytes)));
            return;
        }

        // Completes here, on the calling thread, when the decode memory is free (the usual case); else the frame waits
        // for it without a thread and is decoded on the thread pool. Every path ends the frame.
        _ = PrepareAsync(frame, decodeBytes);
    }

    /// <summary>Waits for the frame's decode memory, decodes it into its stage-1 tensor and queues it at stage 1.</summary>
    private async Task PrepareAsync(ScheduledFrame frame, long decodeBytes)
    {
        try
        {
            await DecodeBudget.AcquireAsync(decodeBytes, frame.CancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Cancelled while waiting: nothing was taken, nothing decoded.
            Abandon(frame);
            return;
        }

        ExitEvent? failure;
        try
        {
            failure = Decode(frame);
        }
        finally
        {
            // The decode's bitmaps are freed by now (Process disposes them): the memory is the next decode's.
            DecodeBudget.Release(decodeBytes);
        }

        if (failure is not null)
        {
            Finish(frame, failure);
            return;
        }

        frame.Key = OrderKey(frame.Request, frame.Client);
        try
        {
            _scheduler.Enqueue(frame);
        }
        catch (ObjectDisposedException)
        {
            Finish(frame, FrameEvaluation.Failed(frame.Request.FrameId, FrameErrorCode.Unavailable, $"Model '{Name}' is shutting down.", frame.Evaluation.Elapsed));
        }
    }

    /// <summary>Writes the frame's stage-1 tensor into a pooled buffer; the final event of a frame whose image fails, else null.</summary>
    private ExitEvent? Decode(ScheduledFrame frame)
    {
        var request = frame.Request;
        var inputStart = _clock.GetTimestamp();
        var host = ArrayPool<float>.Shared.Rent(_preprocessor.TensorLength);
        frame.Host = host;
        try
        {
            _preprocessor.Process(request.Image, host);
        }
        catch (InvalidImageException ex)
        {
            return Rejected(request, ex);
        }
        catch (Exception ex)
        {
            RuntimeLog.FrameFailed(_logger, ex, request.FrameId, 0);
            return FrameEvaluation.Failed(request.FrameId, FrameErrorCode.Internal, $"Preparing the image failed: {ex.Message}", _clock.GetElapsedTime(request.ReceivedTimestamp));
        }

        if (!request.IsWarmup)
        {
            Statistics.RecordInput(_clock.GetElapsedTime(inputStart));
        }

        return null;
    }

    /// <summary>The final event of a frame whose image is refused: too large (RESOURCE_EXHAUSTED) or malformed.</summary>
    private ExitEvent Rejected(FrameRequest request, InvalidImageException ex) =>
        Rejected(request, ex.TooLarge ? FrameErrorCode.ResourceExhausted : FrameErrorCode.InvalidArgument, ex.Message);

    private ExitEvent Rejected(FrameRequest request, FrameErrorCode code, string message)
    {
        RuntimeLog.FrameRejected(_logger, request.FrameId, message);
        return FrameEvaluation.Failed(request.FrameId, code, message, _clock.GetElapsedTime(request.ReceivedTimestamp));
    }

    /// <summary>Counts the final event of a frame that its stream dropped before submitting it (the <c>latest</c> policy).</summary>
    public void RecordDropped(ExitEvent dropped)
    {
        ArgumentNullException.ThrowIfNull(dropped);
        RuntimeMetrics.RecordFrame(Name, dropped, dropped.ServerTime);
    }

    /// <summary>
    /// Runs every stage over <paramref name="count"/> preprocessed images in batches of up to <paramref name="batchSize"/>
    /// and writes each exit's logits (<c>logits[s]</c>: count x K), for evaluation: every exit of every image, no
    /// policy, outside the scheduler. Needs host data paths: an engine whose stages replay captured graphs (fixed batch-1
    /// bindings) is refused; load one with graph capture off for this.
    /// </summary>
    /// <param name="inputs">count x 3 x H x W floats from <see cref="Preprocessor"/>.</param>
    /// <exception cref="InvalidOperationException">The stages replay captured graphs.</exception>
    public void RunAllExits(ReadOnlyMemory<float> inputs, int count, IReadOnlyList<Memory<float>> logits, int batchSize = 250)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (CapturesGraphs)
        {
            throw new InvalidOperationException($"Model '{Name}' replays captured graphs, which run one image at a time; load it with graph capture off for batched runs.");
        }

        var k = Classes.Count;
        var length = _preprocessor.TensorLength;
        var batch = Math.Max(1, Math.Min(batchSize, _stages.Min(st => st.MaxBatch)));
        using var runOptions = new RunOptions();
        for (var start = 0; start < count; start += batch)
        {
            var n = Math.Min(batch, count - start);
            var input = inputs.Slice(start * length, n * length).ToArray();
            foreach (var stage in _stages)
            {
                var feature = stage.HasFeature ? new float[n * stage.FeatureLength] : [];
                stage.Run(input, n, logits[stage.Index].Slice(start * k, n * k), feature, runOptions);
                input = feature;
            }
        }
    }

    /// <summary>
    /// Times each stage alone on one batch of <paramref name="batch"/> preprocessed images (each stage's input the
    /// previous stage's output), after one untimed run: mean time of a run over <paramref name="runs"/> runs. What
    /// batching buys on this machine and provider, stage by stage. Host data paths only, as <see cref="RunAllExits"/>.
    /// </summary>
    /// <param name="inputs">batch x 3 x H x W floats from <see cref="Preprocessor"/>.</param>
    /// <exception cref="InvalidOperationException">The stages replay captured graphs, or a stage's model has a fixed batch below <paramref name="batch"/>.</exception>
    public TimeSpan[] TimeStages(ReadOnlyMemory<float> inputs, int batch, int runs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (CapturesGraphs || _stages.Any(st => st.MaxBatch < batch))
        {
            throw new InvalidOperationException($"Model '{Name}' cannot run stages at batch {batch} on its host path (captured graphs, or a fixed batch dimension).");
        }

        using var runOptions = new RunOptions();
        var times = new TimeSpan[ExitCount];
        var input = inputs[..(batch * _preprocessor.TensorLength)].ToArray();
        var logits = new float[batch * Classes.Count];
        foreach (var stage in _stages)
        {
            var feature = new float[batch * stage.FeatureLength];
            stage.Run(input, batch, logits, feature, runOptions);
            var start = _clock.GetTimestamp();
            for (var i = 0; i < runs; i++)
            {
                stage.Run(input, batch, logits, feature, runOptions);
            }

            times[stage.Index] = _clock.GetElapsedTime(start) / runs;
            input = feature;
        }

        return times;
    }

    /// <summary>The final event of a frame refused at admission.</summary>
    public ExitEvent Refused(FrameRequest request, FrameErrorCode refusal)
    {
        ArgumentNullException.ThrowIfNull(request);
        var e = FrameEvaluation.Failed(request.FrameId, refusal, Admission.RefusalMessage(Name, refusal), _clock.GetElapsedTime(request.ReceivedTimestamp));
        if (!request.IsWarmup)
        {
            RuntimeMetrics.RecordRefusal(Name, refusal);
            RuntimeMetrics.RecordFrame(Name, e, e.ServerTime);
        }

        return e;
    }

    /// <summary>
    /// Runs <paramref name="frames"/> synthetic frames through the whole frame path (decoding, preprocessing, every
    /// stage, fusion, the events), so that the first client frame does not pay one-off costs (JIT compilation and first
    /// use of the decoder: several ordinary frames' time). They are counted nowhere (statistics, metrics, latency
    /// estimates).
    /// </summary>
    public async Task WarmUpFramesAsync(int frames = 2, CancellationToken cancellationToken = default)
    {
        var policy = new ExitPolicy([.. Enumerable.Repeat(1f, ExitCount)]);
        var image = ImageSource.Encoded(SyntheticImage.Png(_preprocessor.Width, _preprocessor.Height));
        for (var i = 0; i < frames; i++)
        {
            var request = new FrameRequest("warm-up", image, policy, InferenceMode.Full, null, _clock.GetTimestamp()) { IsWarmup = true };
            await foreach (var _ in ClassifyAsync(request, cancellationToken).ConfigureAwait(false))
            {
            }
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;

        // Queued frames run to their final events before the stages go.
        _scheduler.Dispose();
        RuntimeMetrics.Untrack(engine: this);
        foreach (var stage in _stages)
        {
            stage.Dispose();
        }
    }

    TimeSpan IFrameCompletion.Estimate(int stage, int batch) => LatencyFor(_stages[stage].Provider).Estimate(stage, batch);

    void IFrameCompletion.RecordStage(int stage, List<ScheduledFrame> batch, TimeSpan elapsed, long batchId)
    {
        RuntimeTracing.RecordStage(batch, stage, batchId, _stages[stage].Provider, elapsed);
        var warmup = true;
        foreach (var frame in batch)
        {
            warmup &= frame.Request.IsWarmup;
        }

        if (warmup)
        {
            return;
        }

        var runner = _stages[stage];
        LatencyFor(runner.Provider).Record(stage, elapsed, batch.Count);
        Admission.RecordRun(elapsed);
        Statistics.RecordStage(batch.Count, elapsed);
        RuntimeMetrics.RecordStage(Name, stage + 1, runner.Provider, elapsed, batch.Count);
    }

    void IFrameCompletion.Finish(ScheduledFrame frame, ExitEvent final) => Finish(frame, final);

    void IFrameCompletion.Abandon(ScheduledFrame frame) => Abandon(frame);

    private void CheckPolicy(FrameRequest request)
    {
        if (request.Policy.ExitCount != ExitCount)
        {
            throw new ArgumentException($"The policy has {request.Policy.ExitCount} thresholds; model '{Name}' has {ExitCount} exits.", nameof(request));
        }
    }

    /// <summary>
    /// A frame's place in the queues. With a budget: its deadline. Without: its stream's virtual time (each frame
    /// advances it by a frame's estimated cost, so a stream that sends more than others queues behind them) plus a
    /// horizon that puts budgeted frames first without letting unbudgeted ones wait for ever.
    /// </summary>
    private long OrderKey(FrameRequest request, AdmissionClient? client)
    {
        if (request.Budget is { } budget && request.Mode != InferenceMode.Full)
        {
            return request.ReceivedTimestamp + _clock.ToTimestampTicks(budget);
        }

        var start = request.ReceivedTimestamp;
        if (client is not null)
        {
            var cost = _clock.ToTimestampTicks(FrameCost());
            lock (client)
            {
                start = Math.Max(start, client.VirtualFinish);
                client.VirtualFinish = start + cost;
            }
        }

        return start + _clock.ToTimestampTicks(UnbudgetedHorizon);
    }

    /// <summary>The executor time of one frame that runs every stage at batch 1.</summary>
    private TimeSpan FrameCost()
    {
        var total = TimeSpan.Zero;
        for (var s = 0; s < ExitCount; s++)
        {
            total += LatencyFor(_stages[s].Provider).Estimate(s);
        }

        return total / _scheduler.Executors;
    }

    private void Finish(ScheduledFrame frame, ExitEvent final)
    {
        StageExecutor.Release(frame);
        Admission.Release(frame.Client);
        Interlocked.Decrement(ref _inFlight);
        var request = frame.Request;
        if (!request.IsWarmup)
        {
            Interlocked.Increment(ref _completed);
            var total = _clock.GetElapsedTime(request.ReceivedTimestamp);
            Statistics.RecordFrame(final.Kind is not (ExitKind.Error or ExitKind.Dropped), total, frame.Inference, frame.Evaluation.QueueTime, _clock.GetUtcNow());
            RuntimeMetrics.RecordFrame(Name, final, total);
        }

        RuntimeTracing.EndFrame(frame, final);
        frame.Sink.OnEvent(final);
    }

    private void Abandon(ScheduledFrame frame)
    {
        StageExecutor.Release(frame);
        Admission.Release(frame.Client);
        Interlocked.Decrement(ref _inFlight);
        if (!frame.Request.IsWarmup)
        {
            Interlocked.Increment(ref _cancelled);
        }

        RuntimeTracing.AbandonFrame(frame);
        frame.Sink.OnCancelled();
    }

    /// <summary>Runs each stage <paramref name="runs"/> times (at batch 1 and at its largest batch) to seed the estimates.</summary>
    internal void Warmup(int runs)
    {
        if (runs <= 0)
        {
            return;
        }

        using var runOptions = new RunOptions();
        var input = new float[_preprocessor.TensorLength];
        var logits = new float[Classes.Count];
        if (CapturesGraphs)
        {
            WarmupCaptured(runs, input, logits, runOptions);
            return;
        }

        foreach (var stage in _stages)
        {
            var feature = new float[stage.FeatureLength];
            for (var i = 0; i < runs; i++)
            {
                var start = _clock.GetTimestamp();
                stage.Run(input, 1, logits, feature, runOptions);

                // The first run pays one-off allocation and kernel selection; it is not a latency sample.
                if (i > 0 || runs == 1)
                {
                    LatencyFor(stage.Provider).Record(stage.Index, _clock.GetElapsedTime(start));
                }
            }

            WarmupBatch(stage, runs, runOptions);
            input = feature;
        }
    }

    /// <summary>Seeds the estimate of a stage's largest batch too, so that the first batches are planned on a measurement.</summary>
    private void WarmupBatch(StageRunner stage, int runs, RunOptions runOptions)
    {
        var batch = _scheduler.MaxBatch[stage.Index];
        if (batch <= 1)
        {
            return;
        }

        var input = new float[batch * stage.InputLength];
        var logits = new float[batch * Classes.Count];
        var feature = new float[batch * stage.FeatureLength];
        for (var i = 0; i < runs; i++)
        {
            var start = _clock.GetTimestamp();
            stage.Run(input, batch, logits, feature, runOptions);
            if (i > 0 || runs == 1)
            {
                LatencyFor(stage.Provider).Record(stage.Index, _clock.GetElapsedTime(start), batch);
            }
        }
    }

    /// <summary>Warm-up of captured stages (their graphs were captured at load): replays, to seed the latency estimates.</summary>
    private void WarmupCaptured(int runs, float[] input, float[] logits, RunOptions runOptions)
    {
        DeviceBuffer? previous = null;
        var feature = new DeviceBuffer?[1];
        try
        {
            foreach (var stage in _stages)
            {
                DeviceBuffer? output = null;
                for (var i = 0; i < runs; i++)
                {
                    var start = _clock.GetTimestamp();
                    stage.RunCapturedBatch(previous is null ? input : null, previous is null ? null : [previous], 1, logits, feature, runOptions);
                    var elapsed = _clock.GetElapsedTime(start);
                    var next = feature[0];
                    output?.Release();
                    output = next;

                    // The first replay pays the feature buffer's allocation: not a latency sample.
                    if (i > 0 || runs == 1)
                    {
                        LatencyFor(stage.Provider).Record(stage.Index, elapsed);
                    }
                }

                previous?.Release();
                previous = output;
            }
        }
        finally
        {
            previous?.Release();
        }
    }

    internal string DescribeEstimates() =>
        string.Join(", ", Enumerable.Range(0, ExitCount).Select(s => string.Create(CultureInfo.InvariantCulture, $"{Latency.Estimate(s).TotalMilliseconds:F3} ms")));

    private StageLatencyEstimator LatencyFor(string provider) =>
        _latency.GetOrAdd(provider, static (_, engine) => new StageLatencyEstimator(engine.ExitCount, clock: engine._clock), this);
}
