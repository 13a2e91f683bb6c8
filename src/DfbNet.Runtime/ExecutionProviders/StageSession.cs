using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>
/// One ONNX Runtime session on one execution provider, owned and disposed here. Runs are virtual so that tests can
/// inject faults into a real session (the circuit-breaker tests); nothing else derives from it.
/// </summary>
internal class StageSession : IDisposable
{
    private OrtAllocator? _deviceAllocator;
    private bool _disposed;

    /// <param name="session">The session, owned from here.</param>
    /// <param name="provider">The provider's name.</param>
    /// <param name="deviceMemory">Where the provider keeps tensors; null for host memory.</param>
    /// <param name="graphMemory">Set, with <paramref name="graphStream"/>, when the stage is to be captured as a graph.</param>
    /// <param name="graphStream">The stream the session runs on (its provider was given it), owned from here.</param>
    public StageSession(InferenceSession session, string provider, OrtMemoryInfo? deviceMemory, IDeviceMemory? graphMemory = null, DeviceStream? graphStream = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (graphMemory is null != graphStream is null)
        {
            throw new ArgumentException("A captured stage needs both its memory and its stream.", nameof(graphStream));
        }

        Session = session;
        Provider = provider;
        DeviceMemory = deviceMemory;
        GraphMemory = graphMemory;
        GraphStream = graphStream;
    }

    public InferenceSession Session { get; }

    /// <summary>The provider's name ("CPU", "CUDA", "TensorRT").</summary>
    public string Provider { get; }

    /// <summary>Where trunk features stay between stages when IOBinding is used; null for host memory.</summary>
    public OrtMemoryInfo? DeviceMemory { get; }

    /// <summary>
    /// Set when the stage is to be captured as a graph and replayed (CUDA graphs): a <see cref="FixedBindingRun"/> over
    /// buffers here then makes every run. Null for sessions that take tensors at any address.
    /// </summary>
    public IDeviceMemory? GraphMemory { get; }

    /// <summary>The stream the session runs on, where its graph is captured and replayed; null with <see cref="GraphMemory"/>.</summary>
    public DeviceStream? GraphStream { get; }

    /// <summary>The allocator for trunk features of IOBinding runs: on the device, or ONNX Runtime's host allocator.</summary>
    public OrtAllocator FeatureAllocator
    {
        get
        {
            if (DeviceMemory is null)
            {
                return OrtAllocator.DefaultInstance;
            }

            lock (Session)
            {
                return _deviceAllocator ??= new OrtAllocator(Session, DeviceMemory);
            }
        }
    }

    /// <summary>A run with caller-owned inputs and outputs.</summary>
    public virtual void Run(RunOptions options, IReadOnlyCollection<string> inputNames, IReadOnlyCollection<OrtValue> inputs, IReadOnlyCollection<string> outputNames, IReadOnlyCollection<OrtValue> outputs) =>
        Session.Run(options, inputNames, inputs, outputNames, outputs);

    /// <summary>A run over an IOBinding (inputs and outputs may live on the device).</summary>
    public virtual void Run(RunOptions options, OrtIoBinding binding) => Session.RunWithBinding(options, binding);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (disposing)
        {
            _deviceAllocator?.Dispose();
            Session.Dispose();
            DeviceMemory?.Dispose();

            // After the session, which may still have work queued on it.
            GraphStream?.Dispose();
        }
    }
}
