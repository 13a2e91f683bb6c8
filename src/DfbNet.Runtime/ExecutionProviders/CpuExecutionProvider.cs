using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>ONNX Runtime's CPU provider: always available, the end of every chain.</summary>
internal sealed class CpuExecutionProvider : IExecutionProvider
{
    public string Name => "CPU";

    public bool TryAppendTo(SessionOptions options, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(options);

        // The CPU provider is ONNX Runtime's built-in fallback; nothing to append, nothing that can fail.
        reason = null;
        return true;
    }
}
