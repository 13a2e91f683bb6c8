using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>ONNX Runtime's CUDA provider (needs an NVIDIA driver and the CUDA 13 / cuDNN 9 libraries on the library path).</summary>
public sealed class CudaExecutionProvider : IExecutionProvider
{
    public CudaExecutionProvider(int deviceId = 0)
    {
        DeviceId = deviceId;
    }

    public string Name => "CUDA";

    public int DeviceId { get; }

    public bool TryAppendTo(SessionOptions options, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(options);
        return GpuProviderLoading.TryAppend(
            () =>
            {
                using var cuda = new OrtCUDAProviderOptions();
                cuda.UpdateOptions(new Dictionary<string, string>
                {
                    ["device_id"] = DeviceId.ToString(CultureInfo.InvariantCulture),
                    ["cudnn_conv_algo_search"] = "EXHAUSTIVE",
                });
                options.AppendExecutionProvider_CUDA(cuda);
            },
            out reason);
    }

    public OrtMemoryInfo CreateDeviceMemoryInfo() => GpuProviderLoading.DeviceMemory(DeviceId);
}
