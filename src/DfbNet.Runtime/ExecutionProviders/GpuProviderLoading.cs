using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>What the CUDA and TensorRT providers share: how a failed load becomes a reason, and where tensors live.</summary>
internal static class GpuProviderLoading
{
    /// <summary>Runs <paramref name="append"/>; a provider library that cannot load becomes a reason, not a crash.</summary>
    public static bool TryAppend(Action append, out string? reason)
    {
        try
        {
            append();
            reason = null;
            return true;
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
        {
            reason = ex.Message;
            return false;
        }
    }

    /// <summary>A session of a GPU provider: features kept on the GPU, and its fixed buffers there when it captures graphs.</summary>
    public static StageSession CreateSession(string provider, int deviceId, bool capturesGraphs, string modelPath, SessionOptions options) =>
        new(new InferenceSession(modelPath, options), provider, DeviceMemory(deviceId), capturesGraphs ? new CudaMemory(deviceId) : null);

    /// <summary>CUDA device memory of a GPU.</summary>
    public static OrtMemoryInfo DeviceMemory(int deviceId) =>
        new(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, deviceId, OrtMemType.Default);
}
