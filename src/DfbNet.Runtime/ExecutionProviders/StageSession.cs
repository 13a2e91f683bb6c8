using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>
/// One ONNX Runtime session on one execution provider, owned and disposed here. Runs are virtual so that tests can
/// inject faults into a real session (the circuit-breaker tests); nothing else derives from it.
/// </summary>
public class StageSession : IDisposable
{
    private OrtAllocator? _deviceAllocator;
    private bool _disposed;

    public StageSession(InferenceSession session, string provider, OrtMemoryInfo? deviceMemory, IDeviceMemory? graphMemory = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        Session = session;
        Provider = provider;
        DeviceMemory = deviceMemory;
        GraphMemory = graphMemory;
    }

    public InferenceSession Session { get; }

    /// <summary>The provider's name ("CPU", "CUDA", "TensorRT").</summary>
    public string Provider { get; }

    /// <summary>Where trunk features stay between stages when IOBinding is used; null for host memory.</summary>
    public OrtMemoryInfo? DeviceMemory { get; }

    /// <summary>
    /// Set when the session captures its graph and replays it (CUDA graphs): every run must then go through one
    /// <see cref="FixedBindingRun"/> whose buffers live here. Null for sessions that take tensors at any address.
    /// </summary>
    public IDeviceMemory? GraphMemory { get; }

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
        }
    }
}
