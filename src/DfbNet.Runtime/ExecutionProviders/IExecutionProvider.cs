using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>
/// One ONNX Runtime execution provider. The provider chain tries these in order; one that cannot be used on this
/// machine says why and is skipped, never silently.
/// </summary>
internal interface IExecutionProvider
{
    /// <summary>The name shown in model info, logs and metrics (for example "CPU", "CUDA", "TensorRT").</summary>
    string Name { get; }

    /// <summary>Adds the provider to <paramref name="options"/>; returns false with a reason when it cannot run here.</summary>
    bool TryAppendTo(SessionOptions options, out string? reason);

    /// <summary>Where this provider keeps tensors (features stay there between stages); null for host memory.</summary>
    OrtMemoryInfo? CreateDeviceMemoryInfo() => null;

    /// <summary>True when sessions of this provider capture a graph per stage and replay it (CUDA graphs).</summary>
    bool CapturesGraphs => false;

    /// <summary>The same provider without graph capture (itself when it captures none).</summary>
    IExecutionProvider WithoutGraphCapture() => this;

    /// <summary>Creates the session once <see cref="TryAppendTo"/> succeeded.</summary>
    StageSession CreateSession(string modelPath, SessionOptions options) =>
        new(new InferenceSession(modelPath, options), Name, CreateDeviceMemoryInfo());

    /// <summary>
    /// Adds the provider to <paramref name="options"/> and creates a session for <paramref name="modelPath"/>; null with a
    /// reason when the provider cannot run here. Providers that give each session something of its own (a capturing
    /// GPU provider gives it a stream) do both here.
    /// </summary>
    /// <exception cref="OnnxRuntimeException">The provider loaded but the session could not be created.</exception>
    StageSession? TryCreateSession(string modelPath, SessionOptions options, out string? reason) =>
        TryAppendTo(options, out reason) ? CreateSession(modelPath, options) : null;
}
