using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>ONNX Runtime's TensorRT provider (needs libnvinfer.so.10 besides the CUDA libraries); engines are cached on disk.</summary>
public sealed class TensorRtExecutionProvider : IExecutionProvider
{
    /// <param name="deviceId">The GPU.</param>
    /// <param name="engineCachePath">Folder for built engines; null disables the cache.</param>
    /// <param name="fp16">Let TensorRT use fp16 kernels.</param>
    /// <param name="captureGraphs">Capture each engine's launches as a CUDA graph and replay it.</param>
    public TensorRtExecutionProvider(int deviceId = 0, string? engineCachePath = null, bool fp16 = false, bool captureGraphs = false)
    {
        DeviceId = deviceId;
        EngineCachePath = engineCachePath;
        Fp16 = fp16;
        CapturesGraphs = captureGraphs;
    }

    public string Name => "TensorRT";

    public int DeviceId { get; }

    /// <summary>Folder for built TensorRT engines, so that a restart does not rebuild them; null disables the cache.</summary>
    public string? EngineCachePath { get; }

    public bool Fp16 { get; }

    public bool CapturesGraphs { get; }

    public IExecutionProvider WithoutGraphCapture() => CapturesGraphs ? new TensorRtExecutionProvider(DeviceId, EngineCachePath, Fp16) : this;

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
                    ["trt_cuda_graph_enable"] = CapturesGraphs ? "1" : "0",
                };
                if (EngineCachePath is not null)
                {
                    settings["trt_engine_cache_enable"] = "1";
                    settings["trt_engine_cache_path"] = EngineCachePath;
                }

                trt.UpdateOptions(settings);
                options.AppendExecutionProvider_Tensorrt(trt);

                // Only once TensorRT is in use: a machine without it gets no empty cache folder.
                if (EngineCachePath is not null)
                {
                    Directory.CreateDirectory(EngineCachePath);
                }
            },
            out reason);
    }

    public OrtMemoryInfo CreateDeviceMemoryInfo() => GpuProviderLoading.DeviceMemory(DeviceId);

    public StageSession CreateSession(string modelPath, SessionOptions options) =>
        GpuProviderLoading.CreateSession(Name, DeviceId, CapturesGraphs, modelPath, options);
}
