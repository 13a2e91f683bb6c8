using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using DfbNet.Core;
using DfbNet.Core.Manifest;
using DfbNet.Runtime.ExecutionProviders;
using DfbNet.Runtime.Preprocessing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime;

/// <summary>
/// Serves one DFB-Net: one session per stage, each stage's trunk feature handed to the next, Algorithm 1 with
/// modes and a latency budget. Frames are independent; per-frame state lives in <see cref="FrameEvaluation"/>,
/// outside the stage runners. Events are yielded the moment they exist.
/// </summary>
public sealed class EarlyExitEngine : IDisposable
{
    private static readonly CpuExecutionProvider CpuProvider = new();
    private readonly StageRunner[] _stages;
    private readonly ImagePreprocessor _preprocessor;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly ConcurrentBag<RunOptions> _runOptions = [];
    private int _inFlight;
    private long _completed;
    private long _cancelled;
    private bool _disposed;

    private EarlyExitEngine(string name, string folder, ModelManifest manifest, StageRunner[] stages, EngineOptions options, ILogger logger)
    {
        Name = name;
        Folder = folder;
        Manifest = manifest;
        _stages = stages;
        _clock = options.Clock;
        _logger = logger;
        _preprocessor = new ImagePreprocessor(manifest.Input, options.MaxImagePixels);
        Latency = new StageLatencyEstimator(stages.Length);
        CapturesGraphs = stages.Length > 0 && stages.All(st => st.CapturesGraph);
        UsesIoBinding = !CapturesGraphs && (options.UseIoBinding ?? stages.Any(st => st.UsesDeviceMemory));
        DefaultPolicy = new ExitPolicy(manifest.Thresholds.Presets[manifest.Thresholds.Default]);
    }

    /// <summary>The model's name (its folder name).</summary>
    public string Name { get; }

    public string Folder { get; }

    public ModelManifest Manifest { get; }

    public IReadOnlyList<string> Classes => Manifest.Classes;

    /// <summary>M.</summary>
    public int ExitCount => _stages.Length;

    public IReadOnlyList<StageRunner> Stages => _stages;

    /// <summary>The running per-stage latency estimates (batch 1).</summary>
    public StageLatencyEstimator Latency { get; }

    /// <summary>The thresholds of the manifest's default preset.</summary>
    public ExitPolicy DefaultPolicy { get; }

    /// <summary>True when features are handed between stages as bound OrtValues (they stay on the device).</summary>
    public bool UsesIoBinding { get; }

    /// <summary>True when every stage replays a captured graph (CUDA graphs); features then stay on the device in pooled
    /// buffers and only the logits come back.</summary>
    public bool CapturesGraphs { get; }

    /// <summary>The provider of the stages; "CPU+CUDA" style when stages differ.</summary>
    public string ExecutionProvider => string.Join("+", _stages.Select(s => s.Provider).Distinct());

    public ImagePreprocessor Preprocessor => _preprocessor;

    /// <summary>Frames being processed now.</summary>
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
    public static EarlyExitEngine Load(string modelFolder, EngineOptions? options = null, ILogger? logger = null)
    {
        options ??= new EngineOptions();
        logger ??= NullLogger.Instance;
        var folder = Path.GetFullPath(modelFolder);
        var name = Path.GetFileName(folder.TrimEnd(Path.DirectorySeparatorChar));
        var manifest = ManifestLoader.LoadFolder(folder);
        var manifestPath = Path.Combine(folder, ModelManifest.FileName);
        var stages = new List<StageRunner>();
        try
        {
            long[] expectedInput = [3, manifest.Input.Height, manifest.Input.Width];
            for (var s = 0; s < manifest.Stages.Count; s++)
            {
                var spec = manifest.Stages[s];
                var path = Path.Combine(folder, spec.File);
                StageSession session;
                try
                {
                    session = options.Providers.CreateSession(path, o => Configure(o, options), logger);
                }
                catch (OnnxRuntimeException ex)
                {
                    throw new ManifestException(manifestPath, $"stages[{s}].file", $"'{spec.File}' is not a loadable ONNX model: {ex.Message}", ex);
                }

                try
                {
                    var shapes = StageShapes.Check(session.Session, spec, s, manifest.Classes.Count, expectedInput, s == manifest.Stages.Count - 1, manifestPath);
                    RuntimeLog.StageProvider(logger, s + 1, name, session.Provider);
                    RuntimeMetrics.SessionsCreated.Add(1, new KeyValuePair<string, object?>("stage", s + 1), new KeyValuePair<string, object?>("provider", session.Provider));

                    // A GPU stage gets a CPU session to fall back on, created on first need.
                    Func<StageSession>? fallback = session.Provider == CpuProvider.Name
                        ? null
                        : () => ExecutionProviderChain.CpuOnly.CreateSession(path, o => Configure(o, options), logger);
                    stages.Add(new StageRunner(s, spec, session, fallback, options.Breaker, options.Clock, manifest.Classes.Count, expectedInput, shapes.Feature, logger));
                    expectedInput = shapes.Feature ?? [];
                }
                catch
                {
                    session.Dispose();
                    throw;
                }
            }

            // Captured graphs go all the way or not at all: a frame's feature is either in a device buffer or not.
            if (stages.FirstOrDefault(st => !st.CapturesGraph) is { } uncaptured && stages.Any(st => st.CapturesGraph))
            {
                RuntimeLog.GraphCaptureOff(logger, name, uncaptured.Index + 1, uncaptured.Provider);
                foreach (var stage in stages)
                {
                    stage.Dispose();
                }

                stages.Clear();
                return Load(modelFolder, options.WithProviders(options.Providers.WithoutGraphCapture()), logger);
            }

            foreach (var stage in stages.Where(st => st.CapturesGraph))
            {
                RuntimeLog.StageCapturesGraph(logger, stage.Index + 1, name, stage.Provider);
            }

            var engine = new EarlyExitEngine(name, folder, manifest, [.. stages], options, logger);
            engine.Warmup(options.WarmupRuns);
            RuntimeMetrics.Track(engine);
            if (logger.IsEnabled(LogLevel.Information))
            {
                RuntimeLog.ModelLoaded(logger, name, stages.Count, engine.ExecutionProvider, engine.DescribeEstimates());
            }
            return engine;
        }
        catch
        {
            foreach (var stage in stages)
            {
                stage.Dispose();
            }

            throw;
        }
    }

    /// <summary>Resolves a request's thresholds: explicit values win, then a preset name, then the default preset.</summary>
    /// <exception cref="ArgumentException">Unknown preset, wrong count or a value outside [0, 1].</exception>
    public ExitPolicy ResolvePolicy(string? preset, IReadOnlyList<float>? thresholds)
    {
        if (thresholds is { Count: > 0 })
        {
            if (thresholds.Count != ExitCount)
            {
                throw new ArgumentException($"{thresholds.Count} thresholds given; model '{Name}' has {ExitCount} exits.");
            }

            for (var i = 0; i < thresholds.Count; i++)
            {
                if (!(thresholds[i] >= 0f && thresholds[i] <= 1f))
                {
                    throw new ArgumentException($"Threshold {i + 1} is {thresholds[i]}; thresholds must lie in [0, 1].");
                }
            }

            return new ExitPolicy(thresholds);
        }

        if (string.IsNullOrEmpty(preset))
        {
            return DefaultPolicy;
        }

        return Manifest.Thresholds.Presets.TryGetValue(preset, out var values)
            ? new ExitPolicy(values)
            : throw new ArgumentException($"Model '{Name}' has no preset '{preset}' (presets: {string.Join(", ", Manifest.Thresholds.Presets.Keys)}).");
    }

    /// <summary>Classifies one frame, yielding each event as soon as it exists; the last one is final.</summary>
    /// <remarks>A bad image yields one <see cref="ExitKind.Error"/> event rather than throwing. Cancellation stops the
    /// stage in flight (ONNX Runtime's terminate flag) and throws <see cref="OperationCanceledException"/>.</remarks>
    public async IAsyncEnumerable<ExitEvent> ClassifyAsync(FrameRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (request.Policy.ExitCount != ExitCount)
        {
            throw new ArgumentException($"The policy has {request.Policy.ExitCount} thresholds; model '{Name}' has {ExitCount} exits.", nameof(request));
        }

        // No yield to the thread pool first: the stages run on the caller's thread (the server's per-stream workers are pool
        // threads already), because a hop per frame cost about 0.01 ms, a tenth of a first-exit frame on one CPU core.
        cancellationToken.ThrowIfCancellationRequested();

        Interlocked.Increment(ref _inFlight);
        var pool = ArrayPool<float>.Shared;
        var current = pool.Rent(_preprocessor.TensorLength);
        var logits = pool.Rent(Classes.Count);
        var runOptions = RentRunOptions();
        var inference = TimeSpan.Zero;

        // The frame's final event; null while it runs and when the caller stopped reading before it.
        ExitEvent? final = null;
        var tensors = new FrameTensors();
        try
        {
            var inputStart = _clock.GetTimestamp();
            var error = Preprocess(request, current);
            if (error is not null)
            {
                final = error;
                yield return error;
                yield break;
            }

            if (!request.IsWarmup)
            {
                Statistics.RecordInput(_clock.GetElapsedTime(inputStart));
            }

            if (UsesIoBinding)
            {
                // Stage 1's input goes in from the host; every later feature stays where its stage's provider keeps it.
                tensors.Bound = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, current.AsMemory(0, _preprocessor.TensorLength), [1, 3, _preprocessor.Height, _preprocessor.Width]);
            }

            var evaluation = new FrameEvaluation(request.FrameId, request.Policy, Classes.Count, request.Mode, request.Budget, _clock, request.ReceivedTimestamp);
            var events = new List<ExitEvent>(2);
            ExitEvent? cut;
            while (evaluation.TryBeginStage(Latency, out cut))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var stage = _stages[evaluation.NextStage];
                var onHost = !UsesIoBinding && !CapturesGraphs;
                var feature = stage.HasFeature && onHost ? pool.Rent(stage.FeatureLength) : null;
                var stageStart = _clock.GetTimestamp();
                var failure = RunStage(stage, request, current, logits, feature, ref tensors, runOptions, evaluation.ExitsComputed, evaluation.Elapsed, cancellationToken);
                inference += _clock.GetElapsedTime(stageStart);

                // The host input is spent once stage 1 ran, whatever carries the feature on.
                if (current.Length > 0 && (onHost || tensors.HostInputSpent))
                {
                    pool.Return(current);
                    current = [];
                }

                if (onHost)
                {
                    current = feature ?? [];
                }

                if (failure is not null)
                {
                    final = failure;
                    yield return failure;
                    yield break;
                }

                events.Clear();
                evaluation.CompleteStage(logits.AsSpan(0, Classes.Count), events);
                foreach (var e in events)
                {
                    if (e.IsFinal)
                    {
                        final = e;
                    }

                    yield return e;
                }
            }

            if (cut is not null)
            {
                final = cut;
                yield return cut;
            }
        }
        finally
        {
            tensors.Dispose();
            if (current.Length > 0)
            {
                pool.Return(current);
            }

            pool.Return(logits);
            ReturnRunOptions(runOptions);
            Interlocked.Decrement(ref _inFlight);
            if (request.IsWarmup)
            {
                // Not a client's frame.
            }
            else if (final is not null)
            {
                Interlocked.Increment(ref _completed);
                var total = _clock.GetElapsedTime(request.ReceivedTimestamp);
                Statistics.RecordFrame(final.Kind != ExitKind.Error, total, inference, _clock.GetUtcNow());
                RuntimeMetrics.RecordFrame(Name, final, total);
            }
            else
            {
                Interlocked.Increment(ref _cancelled);
            }
        }
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
        RuntimeMetrics.Untrack(engine: this);
        foreach (var stage in _stages)
        {
            stage.Dispose();
        }

        while (_runOptions.TryTake(out var options))
        {
            options.Dispose();
        }
    }

    private static void Configure(SessionOptions options, EngineOptions engine)
    {
        options.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL;
        options.ExecutionMode = ExecutionMode.ORT_SEQUENTIAL;
        if (engine.IntraOpThreads > 0)
        {
            options.IntraOpNumThreads = engine.IntraOpThreads;
        }
    }

    private ExitEvent? Preprocess(FrameRequest request, float[] destination)
    {
        try
        {
            _preprocessor.Process(request.Image, destination);
            return null;
        }
        catch (InvalidImageException ex)
        {
            RuntimeLog.FrameRejected(_logger, request.FrameId, ex.Message);
            var code = ex.TooLarge ? FrameErrorCode.ResourceExhausted : FrameErrorCode.InvalidArgument;
            return FrameEvaluation.Failed(request.FrameId, code, ex.Message, _clock.GetElapsedTime(request.ReceivedTimestamp));
        }
    }

    /// <summary>Runs one stage: into host buffers; over an IOBinding that replaces <c>tensors.Bound</c> with the stage's
    /// feature; or through the stage's captured graph, which replaces <c>tensors.Device</c>. Returns an error event on
    /// failure.</summary>
    private ExitEvent? RunStage(StageRunner stage, FrameRequest request, float[] input, float[] logits, float[]? feature, ref FrameTensors tensors, RunOptions runOptions, int exitsComputed, TimeSpan elapsed, CancellationToken cancellationToken)
    {
        var start = _clock.GetTimestamp();
        try
        {
            if (CapturesGraphs)
            {
                // Not stopped half-way: a replay cannot be, and takes at most a few milliseconds. Cancellation is seen
                // before the next stage.
                var next = stage.RunCaptured(tensors.Device is null ? input : null, tensors.Device, logits, runOptions);
                tensors.Device?.Release();
                tensors.Device = next;
                tensors.HostInputSpent = true;
            }
            else
            {
                using (cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions))
                {
                    if (tensors.Bound is null)
                    {
                        stage.Run(input, 1, logits, feature ?? Memory<float>.Empty, runOptions);
                    }
                    else
                    {
                        var next = stage.RunBound(tensors.Bound, 1, logits, runOptions);
                        tensors.Bound.Dispose();
                        tensors.Bound = next;
                        tensors.HostInputSpent = true;
                    }
                }
            }
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested && ex is OnnxRuntimeException or DeviceMemoryException or OperationCanceledException)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or DeviceMemoryException)
        {
            RuntimeLog.FrameFailed(_logger, ex, request.FrameId, stage.Index + 1);
            return FrameEvaluation.Failed(request.FrameId, FrameErrorCode.Internal, $"Stage {stage.Index + 1} failed: {ex.Message}", elapsed, exitsComputed);
        }

        if (!request.IsWarmup)
        {
            var stageTime = _clock.GetElapsedTime(start);
            Latency.Record(stage.Index, stageTime);
            Statistics.RecordStage();
            RuntimeMetrics.RecordStage(Name, stage.Index + 1, stage.Provider, stageTime);
        }

        return null;
    }

    private void Warmup(int runs)
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
                    Latency.Record(stage.Index, _clock.GetElapsedTime(start));
                }
            }

            input = feature;
        }
    }

    /// <summary>Warm-up of captured stages (their graphs were captured at load): replays, to seed the latency estimates.</summary>
    private void WarmupCaptured(int runs, float[] input, float[] logits, RunOptions runOptions)
    {
        DeviceBuffer? previous = null;
        try
        {
            foreach (var stage in _stages)
            {
                DeviceBuffer? output = null;
                for (var i = 0; i < runs; i++)
                {
                    var start = _clock.GetTimestamp();
                    var next = stage.RunCaptured(previous is null ? input : null, previous, logits, runOptions);
                    var elapsed = _clock.GetElapsedTime(start);
                    output?.Release();
                    output = next;

                    // The first replay pays the feature buffer's allocation: not a latency sample.
                    if (i > 0 || runs == 1)
                    {
                        Latency.Record(stage.Index, elapsed);
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

    private string DescribeEstimates() =>
        string.Join(", ", Enumerable.Range(0, ExitCount).Select(s => string.Create(CultureInfo.InvariantCulture, $"{Latency.Estimate(s).TotalMilliseconds:F3} ms")));

    private RunOptions RentRunOptions()
    {
        if (_runOptions.TryTake(out var options))
        {
            return options;
        }

        return new RunOptions();
    }

    private void ReturnRunOptions(RunOptions options)
    {
        if (options.Terminate || _disposed)
        {
            // A terminated RunOptions is not reused: resetting the flag races with a late cancellation callback.
            options.Dispose();
            return;
        }

        _runOptions.Add(options);
    }

    /// <summary>Where a frame's tensor between stages is: a bound OrtValue (IOBinding) or a pooled device buffer
    /// (captured graphs); neither when features go through host arrays.</summary>
    private struct FrameTensors : IDisposable
    {
        public OrtValue? Bound;
        public DeviceBuffer? Device;

        /// <summary>True once stage 1 has taken the host input in (its array can go back to the pool).</summary>
        public bool HostInputSpent;

        public void Dispose()
        {
            Bound?.Dispose();
            Bound = null;
            Device?.Release();
            Device = null;
        }
    }
}
