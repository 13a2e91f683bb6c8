using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>ONNX Runtime's CUDA provider (needs an NVIDIA driver and the CUDA 13 / cuDNN 9 libraries on the library path).</summary>
public sealed class CudaExecutionProvider : IExecutionProvider
{
    public CudaExecutionProvider(int deviceId = 0, bool cudaGraphs = false)
    {
        DeviceId = deviceId;
        CudaGraphs = cudaGraphs;
    }

    public string Name => "CUDA";

    public int DeviceId { get; }

    /// <summary>Capture each stage as a CUDA graph (fixed batch-1 shapes; requires IOBinding).</summary>
    public bool CudaGraphs { get; }

    public bool TryAppendTo(SessionOptions options, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            using var cuda = new OrtCUDAProviderOptions();
            cuda.UpdateOptions(new Dictionary<string, string>
            {
                ["device_id"] = DeviceId.ToString(CultureInfo.InvariantCulture),
                ["enable_cuda_graph"] = CudaGraphs ? "1" : "0",
                ["cudnn_conv_algo_search"] = "EXHAUSTIVE",
            });
            options.AppendExecutionProvider_CUDA(cuda);
            reason = null;
            return true;
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
        {
            reason = ex.Message;
            return false;
        }
    }

    public OrtMemoryInfo CreateDeviceMemoryInfo() =>
        new(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, DeviceId, OrtMemType.Default);
}
