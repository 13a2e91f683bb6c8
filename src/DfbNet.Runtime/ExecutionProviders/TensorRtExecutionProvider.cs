using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>ONNX Runtime's TensorRT provider (needs libnvinfer.so.10 besides the CUDA libraries); engines are cached on disk.</summary>
public sealed class TensorRtExecutionProvider : IExecutionProvider
{
    public TensorRtExecutionProvider(int deviceId = 0, string? engineCachePath = null, bool fp16 = false)
    {
        DeviceId = deviceId;
        EngineCachePath = engineCachePath;
        Fp16 = fp16;
    }

    public string Name => "TensorRT";

    public int DeviceId { get; }

    /// <summary>Folder for built TensorRT engines, so that a restart does not rebuild them; null disables the cache.</summary>
    public string? EngineCachePath { get; }

    public bool Fp16 { get; }

    public bool TryAppendTo(SessionOptions options, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(options);
        return GpuProviderLoading.TryAppend(
            () =>
            {
                using var trt = new OrtTensorRTProviderOptions();
                var settings = new Dictionary<string, string>
                {
                    ["device_id"] = DeviceId.ToString(CultureInfo.InvariantCulture),
                    ["trt_fp16_enable"] = Fp16 ? "1" : "0",
                };
                if (EngineCachePath is not null)
                {
                    Directory.CreateDirectory(EngineCachePath);
                    settings["trt_engine_cache_enable"] = "1";
                    settings["trt_engine_cache_path"] = EngineCachePath;
                }

                trt.UpdateOptions(settings);
                options.AppendExecutionProvider_Tensorrt(trt);
            },
            out reason);
    }

    public OrtMemoryInfo CreateDeviceMemoryInfo() => GpuProviderLoading.DeviceMemory(DeviceId);
}
