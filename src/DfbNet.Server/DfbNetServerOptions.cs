using System.ComponentModel.DataAnnotations;
using DfbNet.Core;

namespace DfbNet.Server;

/// <summary>Server settings, bound from the <c>DfbNet</c> configuration section (appsettings, DFBNET__* environment variables, --DfbNet:Key=value).</summary>
public sealed class DfbNetServerOptions
{
    public const string SectionName = "DfbNet";

    /// <summary>Folder whose sub-folders each hold a model (manifest.json + stage files). Relative paths are looked up from the working directory upwards.</summary>
    [Required]
    public string ModelRoot { get; set; } = "models";

    /// <summary>The model answering requests that name none.</summary>
    [Required]
    public string DefaultModel { get; set; } = "default";

    /// <summary>The mode of requests that name none.</summary>
    public InferenceMode DefaultMode { get; set; } = InferenceMode.FirstExit;

    /// <summary>Threshold preset of requests that name none; empty for each model's own default preset.</summary>
    public string? DefaultPreset { get; set; }

    /// <summary>Per-frame latency budget of requests that name none, in milliseconds; 0 for none.</summary>
    [Range(0, 3_600_000)]
    public double DefaultBudgetMs { get; set; }

    /// <summary>Largest request message accepted, in bytes (an encoded or raw frame must fit).</summary>
    [Range(1024, 256 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Frames of one stream processed concurrently; their events may interleave.</summary>
    [Range(1, 64)]
    public int MaxFramesInFlightPerStream { get; set; } = 1;

    /// <summary>Frames of one stream received but not yet started; the client is slowed (HTTP/2 flow control) beyond this.</summary>
    [Range(1, 1024)]
    public int StreamQueueCapacity { get; set; } = 8;

    /// <summary>Classes listed in a prediction's top-k when a request does not say.</summary>
    [Range(1, 1000)]
    public int DefaultTopK { get; set; } = 5;

    /// <summary>ONNX Runtime intra-op threads per stage session; 0 for ONNX Runtime's default (all cores).</summary>
    [Range(0, 1024)]
    public int IntraOpThreads { get; set; }

    /// <summary>Warm-up runs per stage at start-up (seed the latency estimates).</summary>
    [Range(0, 1000)]
    public int WarmupRuns { get; set; } = 3;

    /// <summary>Execution providers to try, in order (tensorrt, cuda, cpu). One that cannot load is logged with the reason and skipped.</summary>
    [Required]
    public string ExecutionProviders { get; set; } = "tensorrt,cuda,cpu";

    /// <summary>GPU device id for the CUDA and TensorRT providers.</summary>
    [Range(0, 64)]
    public int DeviceId { get; set; }

    /// <summary>Folder for TensorRT engines (relative to the working directory); empty disables the cache.</summary>
    public string? TensorRtEngineCache { get; set; } = "trt-engine-cache";

    /// <summary>Let TensorRT build fp16 engines.</summary>
    public bool TensorRtFp16 { get; set; }

    /// <summary>Capture each stage as a CUDA graph when it loads and replay it per frame (CUDA and TensorRT providers;
    /// features stay on the GPU). On by default: on an H200 it halved the paper network's time per frame; a stage that
    /// cannot be captured, or whose replay does not match a plain run, runs without (logged).</summary>
    public bool CudaGraphs { get; set; } = true;

    /// <summary>ONNX Runtime CUDA provider options added to or overriding DfbNet's (for example
    /// <c>DfbNet:CudaProviderOptions:prefer_nhwc=1</c>); an unknown key makes the CUDA provider fail to load, logged.</summary>
    public Dictionary<string, string> CudaProviderOptions { get; set; } = [];

    /// <summary>Keep features on the device between stages (IOBinding). Unset: on for GPU providers, off on the CPU.</summary>
    public bool? UseIoBinding { get; set; }

    /// <summary>Seconds a failing GPU stage's traffic stays on the CPU before the GPU is probed again.</summary>
    [Range(0.1, 3600)]
    public double ProviderBreakSeconds { get; set; } = 15;

    /// <summary>
    /// Address of the Prometheus scrape endpoint (<c>GET /metrics</c>, HTTP/1.1), for example <c>http://*:9464</c>; empty
    /// (the default) for none. It is a listener of its own because the gRPC endpoints speak HTTP/2 only.
    /// </summary>
    public string? MetricsUrl { get; set; }

    /// <summary>Largest decoded image, in pixels.</summary>
    [Range(1, 1L << 30)]
    public long MaxImagePixels { get; set; } = 4096L * 4096L;
}
