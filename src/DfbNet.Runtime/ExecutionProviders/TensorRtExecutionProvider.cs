using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>ONNX Runtime's TensorRT provider (needs libnvinfer.so.10 besides the CUDA libraries); engines are cached on disk.</summary>
internal sealed class TensorRtExecutionProvider : IExecutionProvider
{
    /// <param name="deviceId">The GPU.</param>
    /// <param name="engineCachePath">Folder for built engines; null disables the cache.</param>
    /// <param name="fp16">Let TensorRT use fp16 kernels.</param>
    /// <param name="captureGraphs">Capture each stage as a CUDA graph when it loads and replay it per frame, on a stream
    /// of the stage's own (see <see cref="FixedBindingRun"/>).</param>
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
        reason = Append(options, IntPtr.Zero);
        return reason is null;
    }

    public OrtMemoryInfo CreateDeviceMemoryInfo() => GpuProviderLoading.DeviceMemory(DeviceId);

    public StageSession? TryCreateSession(string modelPath, SessionOptions options, out string? reason) =>
        GpuProviderLoading.TryCreateSession(Name, DeviceId, CapturesGraphs, modelPath, options, stream => Append(options, stream), out reason);

    private string? Append(SessionOptions options, IntPtr stream)
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
                GpuProviderLoading.AddStream(settings, stream);
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
            });
    }
}
