using System.Buffers;
using DfbNet.Core.Manifest;
using DfbNet.Runtime.ExecutionProviders;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Polly;
using Polly.CircuitBreaker;

namespace DfbNet.Runtime;

/// <summary>
/// One stage of a DFB-Net on its execution provider. Runs a batch of N items: input [N, ...InputShape] in, logits
/// [N, K] and (except on the last stage) the trunk feature [N, ...FeatureShape] out. Two ways to run: into host
/// buffers the caller owns (so that the caller can pool them), or over an IOBinding that leaves the feature on the
/// provider's device and brings only the logits back.
/// A stage whose session replays a captured graph runs a third way only: through fixed buffers on the device
/// (<see cref="RunCapturedBatch"/>), each frame's feature in a pooled device buffer.
/// When the stage runs on a GPU provider, a circuit breaker sends its traffic to a CPU session while the GPU fails,
/// and probes the GPU again after a pause; each switch is logged and counted.
/// </summary>
public sealed class StageRunner : IDisposable
{
    private readonly StageSession _primary;
    private readonly Lazy<StageSession>? _fallback;
    private readonly ResiliencePipeline? _breaker;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly long[] _inputShape;
    private readonly long[]? _featureShape;
    private readonly ILogger _logger;
    private readonly long[] _inputShape1;
    private readonly long[]? _featureShape1;
    private readonly long[] _logitsShape1;
    private readonly FixedBindingRun? _graph;
    private readonly FixedBindingRun[] _batchGraphs = [];
    private readonly DeviceBufferPool? _featureBuffers;
    private volatile bool _onFallback;

    /// <summary>Batch sizes a captured stage gets a graph for (beyond 1, up to the scheduler's largest batch): a batch runs
    /// on the smallest that holds it, padded.</summary>
    internal static readonly int[] CaptureBuckets = [2, 4, 8, 16, 32];

    internal StageRunner(int index, StageSpec spec, StageSession primary, Func<StageSession>? createFallback, ProviderBreakerOptions breaker, TimeProvider clock, int classCount, long[] inputShape, long[]? featureShape, ILogger logger, int maxBatch = int.MaxValue, int maxCapturedBatch = 1)
    {
        Index = index;
        MaxBatch = maxBatch;
        Spec = spec;
        _primary = primary;
        _logger = logger;
        ClassCount = classCount;
        _inputShape = inputShape;
        _featureShape = featureShape;
        _inputNames = [spec.Input];
        _outputNames = featureShape is null ? [spec.LogitsOutput] : [spec.LogitsOutput, spec.FeatureOutput!];
        InputLength = StageShapes.ElementCount(inputShape);

        // Batch-1 shapes are the common case: built once, not per run.
        _inputShape1 = WithBatch(inputShape, 1);
        _featureShape1 = featureShape is null ? null : WithBatch(featureShape, 1);
        _logitsShape1 = [1, classCount];
        FeatureLength = featureShape is null ? 0 : StageShapes.ElementCount(featureShape);
        if (createFallback is not null)
        {
            _fallback = new Lazy<StageSession>(createFallback, LazyThreadSafetyMode.ExecutionAndPublication);
            _breaker = BuildBreaker(breaker, clock);
        }

        if (primary.GraphMemory is { } memory && primary.GraphStream is { } stream)
        {
            try
            {
                _graph = new FixedBindingRun(primary, memory, stream, spec.Input, _inputShape1, spec.LogitsOutput, _logitsShape1, featureShape is null ? null : spec.FeatureOutput, _featureShape1);
                _featureBuffers = featureShape is null ? null : new DeviceBufferPool(memory, FeatureLength);
            }
            catch (GraphCaptureException ex)
            {
                // The session is unharmed: the stage runs on it without a graph.
                RuntimeLog.GraphCaptureRefused(logger, index + 1, spec.File, primary.Provider, ex.Message);
            }

            _batchGraphs = _graph is null ? [] : CaptureBatches(memory, stream, Math.Min(maxBatch, maxCapturedBatch));
        }
    }

    /// <summary>A graph per batch bucket up to <paramref name="largest"/>; the first bucket that cannot be captured ends
    /// the list (batches then stop at the bucket below it).</summary>
    private FixedBindingRun[] CaptureBatches(IDeviceMemory memory, DeviceStream stream, int largest)
    {
        var graphs = new List<FixedBindingRun>();
        foreach (var bucket in CaptureBuckets)
        {
            if (bucket > largest)
            {
                break;
            }

            try
            {
                graphs.Add(new FixedBindingRun(_primary, memory, stream, Spec.Input, WithBatch(_inputShape, bucket), Spec.LogitsOutput, [bucket, ClassCount], _featureShape is null ? null : Spec.FeatureOutput, _featureShape is null ? null : WithBatch(_featureShape, bucket)));
            }
            catch (GraphCaptureException ex)
            {
                RuntimeLog.GraphCaptureRefused(_logger, Index + 1, $"{Spec.File} at batch {bucket}", _primary.Provider, ex.Message);
                break;
            }
        }

        return [.. graphs];
    }

    /// <summary>Zero-based stage index (exit index - 1).</summary>
    public int Index { get; }

    public StageSpec Spec { get; }

    /// <summary>The provider that runs the stage now: the primary, or CPU while the breaker is open.</summary>
    public string Provider => _onFallback ? FallbackProvider : _primary.Provider;

    /// <summary>The provider the chain chose for this stage.</summary>
    public string PrimaryProvider => _primary.Provider;

    /// <summary>True while the breaker sends this stage's traffic to the CPU.</summary>
    public bool OnFallback => _onFallback;

    /// <summary>True when the primary session keeps tensors on a device (features can stay there between stages).</summary>
    public bool UsesDeviceMemory => _primary.DeviceMemory is not null;

    /// <summary>K.</summary>
    public int ClassCount { get; }

    /// <summary>The largest batch the stage's model takes: its fixed batch dimension, or int.MaxValue for a dynamic one.</summary>
    public int MaxBatch { get; }

    /// <summary>Floats per item of the input.</summary>
    public int InputLength { get; }

    /// <summary>Floats per item of the trunk feature output; 0 on the last stage.</summary>
    public int FeatureLength { get; }

    public bool HasFeature => _featureShape is not null;

    /// <summary>True when the primary session replays a captured graph: run the stage with <see cref="RunCapturedBatch"/> only.</summary>
    public bool CapturesGraph => _graph is not null;

    /// <summary>The largest batch of a captured stage (its largest bucket's graph); 1 without batch graphs.</summary>
    public int CapturedMaxBatch => _batchGraphs.Length > 0 ? _batchGraphs[^1].Batch : 1;

    /// <summary>The input's shape without the batch dimension.</summary>
    public IReadOnlyList<long> InputShape => _inputShape;

    /// <summary>The feature's shape without the batch dimension; null on the last stage.</summary>
    public IReadOnlyList<long>? FeatureShape => _featureShape;

    private static string FallbackProvider => "CPU";

    /// <summary>Runs the stage on <paramref name="batch"/> items into host buffers.</summary>
    /// <param name="input">batch * <see cref="InputLength"/> floats (at least).</param>
    /// <param name="batch">N.</param>
    /// <param name="logits">Receives batch * K floats.</param>
    /// <param name="feature">Receives batch * <see cref="FeatureLength"/> floats; ignored on the last stage.</param>
    /// <param name="runOptions">Carries the terminate flag that cancellation sets.</param>
    internal void Run(Memory<float> input, int batch, Memory<float> logits, Memory<float> feature, RunOptions runOptions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ThrowIfCaptured();
        Execute(
            static (session, s) =>
            {
                s.Runner.RunOnHost(session, s.Input, s.Batch, s.Logits, s.Feature, s.RunOptions);
                return true;
            },
            (Runner: this, Input: input, Batch: batch, Logits: logits, Feature: feature, RunOptions: runOptions),
            runOptions);
    }

    /// <summary>
    /// Runs a stage that <see cref="CapturesGraph"/> on <paramref name="count"/> items through the graph of the smallest
    /// bucket that holds them (padded): the inputs from the host (<paramref name="hostInput"/>, count items back to back,
    /// stage 1) or from the items' device buffers. The logits land in <paramref name="logits"/> (count x K); each item's
    /// feature goes to a pooled device buffer in <paramref name="features"/>[i] (null on the last stage), which the caller
    /// hands back with <see cref="DeviceBuffer.Release"/> once the next stage has run. On the CPU fallback the items run one
    /// by one.
    /// </summary>
    internal void RunCapturedBatch(float[]? hostInput, DeviceBuffer[]? deviceInputs, int count, Memory<float> logits, DeviceBuffer?[] features, RunOptions runOptions)
    {
        if (_graph is null)
        {
            throw new InvalidOperationException($"Stage {Index + 1} does not replay a captured graph.");
        }

        if (hostInput is null == deviceInputs is null)
        {
            throw new ArgumentException("Exactly one of the host and the device inputs must be given.", nameof(hostInput));
        }

        var graph = count == 1 ? _graph : Array.Find(_batchGraphs, g => g.Batch >= count)
            ?? throw new ArgumentOutOfRangeException(nameof(count), count, $"Stage {Index + 1} has graphs for batches up to {CapturedMaxBatch}.");
        // Pooled arrays, longer than count perhaps: only the first count entries are used.
        var rented = _featureBuffers is null ? [] : ArrayPool<DeviceBuffer>.Shared.Rent(count);
        for (var i = 0; i < rented.Length && i < count; i++)
        {
            rented[i] = _featureBuffers!.Rent();
        }

        try
        {
            Execute(
                static (session, s) =>
                {
                    var runner = s.Runner;
                    if (ReferenceEquals(session, runner._primary))
                    {
                        s.Graph.RunBatch(s.HostInput, s.DeviceInputs ?? [], s.Count, s.Logits.Span, s.Features);
                        return true;
                    }

                    for (var i = 0; i < s.Count; i++)
                    {
                        var k = runner.ClassCount;
                        var host = s.HostInput is null ? Memory<float>.Empty : s.HostInput.AsMemory(i * runner.InputLength, runner.InputLength);
                        runner.RunCapturedOnHost(session, host, s.DeviceInputs?[i], s.Logits.Slice(i * k, k), s.Features.Length == 0 ? null : s.Features[i], s.RunOptions);
                    }

                    return true;
                },
                (Runner: this, Graph: graph, HostInput: hostInput, DeviceInputs: deviceInputs, Count: count, Logits: logits, Features: rented, RunOptions: runOptions),
                runOptions);
        }
        catch
        {
            for (var i = 0; i < rented.Length && i < count; i++)
            {
                rented[i].Release();
            }

            ReturnRented(rented);
            throw;
        }

        for (var i = 0; i < count; i++)
        {
            features[i] = rented.Length == 0 ? null : rented[i];
        }

        ReturnRented(rented);
    }

    private static void ReturnRented(DeviceBuffer[] rented)
    {
        if (rented.Length > 0)
        {
            ArrayPool<DeviceBuffer>.Shared.Return(rented, clearArray: true);
        }
    }

    /// <summary>
    /// Runs the stage over an IOBinding: <paramref name="input"/> may live on the device; the logits land in
    /// <paramref name="logits"/> on the host; the returned feature (null on the last stage) stays where the provider
    /// keeps tensors and is the caller's to dispose.
    /// </summary>
    internal OrtValue? RunBound(OrtValue input, int batch, Memory<float> logits, RunOptions runOptions)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ThrowIfCaptured();
        using var logitsValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, logits[..(batch * ClassCount)], LogitsShapeFor(batch));
        return Execute(
            static (session, s) =>
            {
                var runner = s.Runner;
                using var binding = session.Session.CreateIoBinding();
                binding.BindInput(runner._inputNames[0], s.Input);
                binding.BindOutput(runner._outputNames[0], s.Logits);
                OrtValue? feature = null;
                try
                {
                    if (runner._featureShape is not null)
                    {
                        feature = OrtValue.CreateAllocatedTensorValue(session.FeatureAllocator, TensorElementType.Float, runner.FeatureShapeFor(s.Batch));
                        binding.BindOutput(runner._outputNames[1], feature);
                    }

                    session.Run(s.RunOptions, binding);
                    binding.SynchronizeBoundOutputs();
                    return feature;
                }
                catch
                {
                    feature?.Dispose();
                    throw;
                }
            },
            (Runner: this, RunOptions: runOptions, Input: input, Logits: logitsValue, Batch: batch),
            runOptions);
    }

    public void Dispose()
    {
        foreach (var graph in _batchGraphs)
        {
            graph.Dispose();
        }

        _graph?.Dispose();
        _featureBuffers?.Dispose();
        _primary.Dispose();
        if (_fallback is { IsValueCreated: true })
        {
            _fallback.Value.Dispose();
        }
    }

    private void RunOnHost(StageSession session, Memory<float> input, int batch, Memory<float> logits, Memory<float> feature, RunOptions runOptions)
    {
        var mem = OrtMemoryInfo.DefaultInstance;
        using var inputValue = OrtValue.CreateTensorValueFromMemory(mem, input[..(batch * InputLength)], InputShapeFor(batch));
        using var logitsValue = OrtValue.CreateTensorValueFromMemory(mem, logits[..(batch * ClassCount)], LogitsShapeFor(batch));
        using var featureValue = _featureShape is null ? null : OrtValue.CreateTensorValueFromMemory(mem, feature[..(batch * FeatureLength)], FeatureShapeFor(batch));
        OrtValue[] outputs = featureValue is null ? [logitsValue] : [logitsValue, featureValue];
        session.Run(runOptions, _inputNames, [inputValue], _outputNames, outputs);
    }

    /// <summary>A captured stage's run on the CPU fallback: the frame's device tensors come to the host and go back.</summary>
    private void RunCapturedOnHost(StageSession session, Memory<float> hostInput, DeviceBuffer? deviceInput, Memory<float> logits, DeviceBuffer? feature, RunOptions runOptions)
    {
        var graph = _graph!;
        var pool = ArrayPool<float>.Shared;
        var input = hostInput;
        float[]? rentedInput = null;
        float[]? hostFeature = null;
        try
        {
            if (deviceInput is not null)
            {
                rentedInput = pool.Rent(InputLength);
                input = rentedInput.AsMemory(0, InputLength);
                graph.CopyToHost(rentedInput.AsSpan(0, InputLength), deviceInput);
            }

            hostFeature = feature is null ? null : pool.Rent(FeatureLength);
            RunOnHost(session, input, 1, logits, hostFeature, runOptions);
            if (feature is not null)
            {
                graph.CopyFromHost(feature, hostFeature.AsSpan(0, FeatureLength));
            }
        }
        finally
        {
            if (rentedInput is not null)
            {
                pool.Return(rentedInput);
            }

            if (hostFeature is not null)
            {
                pool.Return(hostFeature);
            }
        }
    }

    private void ThrowIfCaptured()
    {
        if (_graph is not null)
        {
            throw new InvalidOperationException($"Stage {Index + 1} replays a captured graph, which reads fixed buffers: run it with {nameof(RunCapturedBatch)}.");
        }
    }

    private TResult Execute<TResult, TState>(Func<StageSession, TState, TResult> run, TState state, RunOptions runOptions)
    {
        if (_breaker is null)
        {
            return RunCancellable(run, _primary, state, runOptions);
        }

        try
        {
            return _breaker.Execute(
                static s => RunCancellable(s.Run, s.Session, s.State, s.RunOptions),
                (Run: run, Session: _primary, State: state, RunOptions: runOptions));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The breaker is open (BrokenCircuitException) or the primary failed this call: this call runs on the CPU,
            // so that no frame is lost to a failing GPU.
            RuntimeLog.StageRunFellBack(_logger, Index + 1, _primary.Provider, ex.Message);
        }

        return RunCancellable(run, _fallback!.Value, state, runOptions);
    }

    private static TResult RunCancellable<TResult, TState>(Func<StageSession, TState, TResult> run, StageSession session, TState state, RunOptions runOptions)
    {
        try
        {
            return run(session, state);
        }
        catch (OnnxRuntimeException) when (runOptions.Terminate)
        {
            // A run stopped by cancellation is not a provider failure: the breaker must not count it.
            throw new OperationCanceledException("The stage run was cancelled.");
        }
    }

    private ResiliencePipeline BuildBreaker(ProviderBreakerOptions options, TimeProvider clock)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = clock };
        return builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions
        {
            FailureRatio = options.FailureRatio,
            MinimumThroughput = options.MinimumThroughput,
            SamplingDuration = options.SamplingDuration,
            BreakDuration = options.BreakDuration,
            ShouldHandle = new PredicateBuilder().Handle<Exception>(static ex => ex is not OperationCanceledException),
            OnOpened = args =>
            {
                _onFallback = true;
                RuntimeLog.ProviderBreakerOpened(_logger, Index + 1, _primary.Provider, FallbackProvider, args.BreakDuration, args.Outcome.Exception?.Message ?? "");
                RuntimeMetrics.ProviderSwitches.Add(1, new("stage", Index + 1), new("from", _primary.Provider), new("to", FallbackProvider));
                return default;
            },
            OnHalfOpened = _ =>
            {
                RuntimeLog.ProviderBreakerProbing(_logger, Index + 1, _primary.Provider);
                return default;
            },
            OnClosed = _ =>
            {
                if (_onFallback)
                {
                    _onFallback = false;
                    RuntimeLog.ProviderBreakerClosed(_logger, Index + 1, _primary.Provider);
                    RuntimeMetrics.ProviderSwitches.Add(1, new("stage", Index + 1), new("from", FallbackProvider), new("to", _primary.Provider));
                }

                return default;
            },
        }).Build();
    }

    private long[] InputShapeFor(int batch) => batch == 1 ? _inputShape1 : WithBatch(_inputShape, batch);

    private long[] FeatureShapeFor(int batch) => batch == 1 ? _featureShape1! : WithBatch(_featureShape!, batch);

    private long[] LogitsShapeFor(int batch) => batch == 1 ? _logitsShape1 : [batch, ClassCount];

    private static long[] WithBatch(long[] shape, int batch)
    {
        var full = new long[shape.Length + 1];
        full[0] = batch;
        shape.CopyTo(full, 1);
        return full;
    }

}

/// <summary>When a GPU stage's traffic moves to the CPU and when the GPU is probed again.</summary>
public sealed class ProviderBreakerOptions
{
    /// <summary>Failed share of the calls in the sampling window that opens the breaker.</summary>
    public double FailureRatio { get; set; } = 0.5;

    /// <summary>Calls in the window before the ratio counts.</summary>
    public int MinimumThroughput { get; set; } = 4;

    public TimeSpan SamplingDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long traffic stays on the CPU before one call probes the GPU.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(15);
}
