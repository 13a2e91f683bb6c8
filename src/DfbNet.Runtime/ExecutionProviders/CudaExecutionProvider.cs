using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>ONNX Runtime's CUDA provider (needs an NVIDIA driver and the CUDA 13 / cuDNN 9 libraries on the library path).</summary>
internal sealed class CudaExecutionProvider : IExecutionProvider
{
    /// <param name="deviceId">The GPU.</param>
    /// <param name="captureGraphs">Capture each stage as a CUDA graph when it loads and replay it per frame (batch 1 on a
    /// GPU is bound by kernel launches; a replay launches the whole stage at once). Each stage's session then runs on a
    /// stream of its own, where DfbNet captures the graph (see <see cref="FixedBindingRun"/>).</param>
    /// <param name="extraOptions">ONNX Runtime CUDA provider options to add or override (for example
    /// <c>prefer_nhwc=1</c>); an unknown key makes the provider fail to load, which the chain logs.</param>
    public CudaExecutionProvider(int deviceId = 0, bool captureGraphs = false, IReadOnlyDictionary<string, string>? extraOptions = null)
    {
        DeviceId = deviceId;
        CapturesGraphs = captureGraphs;
        ExtraOptions = extraOptions ?? new Dictionary<string, string>();
    }

    public string Name => "CUDA";

    public int DeviceId { get; }

    public bool CapturesGraphs { get; }

    /// <summary>Options added to or overriding the defaults.</summary>
    public IReadOnlyDictionary<string, string> ExtraOptions { get; }

    /// <summary>The provider options this provider is appended with (a capturing session's stream is added to them).</summary>
    public IReadOnlyDictionary<string, string> ProviderOptions => OptionsWith(IntPtr.Zero);

    public IExecutionProvider WithoutGraphCapture() => CapturesGraphs ? new CudaExecutionProvider(DeviceId, false, ExtraOptions) : this;

    public bool TryAppendTo(SessionOptions options, out string? reason)
    {
        reason = Append(options, IntPtr.Zero);
        return reason is null;
    }

    public OrtMemoryInfo CreateDeviceMemoryInfo() => GpuProviderLoading.DeviceMemory(DeviceId);

    public StageSession? TryCreateSession(string modelPath, SessionOptions options, out string? reason) =>
        GpuProviderLoading.TryCreateSession(Name, DeviceId, CapturesGraphs, modelPath, options, stream => Append(options, stream), out reason);

    private Dictionary<string, string> OptionsWith(IntPtr stream)
    {
        var options = new Dictionary<string, string>
        {
            ["device_id"] = DeviceId.ToString(CultureInfo.InvariantCulture),
            ["cudnn_conv_algo_search"] = "EXHAUSTIVE",
        };
        GpuProviderLoading.AddStream(options, stream);
        foreach (var (key, value) in ExtraOptions)
        {
            options[key] = value;
        }

        return options;
    }

    private string? Append(SessionOptions options, IntPtr stream)
    {
        ArgumentNullException.ThrowIfNull(options);
        return GpuProviderLoading.TryAppend(() =>
        {
            using var cuda = new OrtCUDAProviderOptions();
            cuda.UpdateOptions(OptionsWith(stream));
            options.AppendExecutionProvider_CUDA(cuda);
        });
    }
}
