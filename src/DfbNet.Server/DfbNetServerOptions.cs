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

    /// <summary>One model folder served alone, ignoring <see cref="ModelRoot"/> (KServe mounts a model at
    /// <c>/mnt/models</c>): its manifest.json, or version folders (1/, 2/, ...) holding one. Empty (the default) for the
    /// model root.</summary>
    public string? ModelFolder { get; set; }

    /// <summary>The name <see cref="ModelFolder"/>'s model is served under (KServe: the InferenceService's name, which
    /// clients ask for); empty for the folder's own name. It is then the default model.</summary>
    public string? ModelName { get; set; }

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

    /// <summary>Frames of one stream in the model's scheduler at once (batched with other streams' frames); their events
    /// may interleave when more than one.</summary>
    [Range(1, 64)]
    public int MaxFramesInFlightPerStream { get; set; } = 1;

    /// <summary>Frames of one stream received and not yet started; beyond it <see cref="StreamQueuePolicy"/> applies.</summary>
    [Range(1, 1024)]
    public int StreamQueueCapacity { get; set; } = 8;

    /// <summary>What a stream does with a frame that arrives while its queue is full, when the stream does not say:
    /// <c>Queue</c> stops reading (HTTP/2 flow control slows the client); <c>Latest</c> replaces the oldest waiting frame,
    /// which ends with a DROPPED event (live cameras).</summary>
    public StreamQueuePolicy StreamQueuePolicy { get; set; } = StreamQueuePolicy.Queue;

    /// <summary>Frames admitted to one model at most (queued anywhere in the server plus running); a frame beyond it is
    /// refused at once (UNAVAILABLE, or RESOURCE_EXHAUSTED for a stream above its share).</summary>
    [Range(1, 100_000)]
    public int MaxAdmittedFrames { get; set; } = 32;

    /// <summary>Admission by expected wait, in microseconds; 0 for <see cref="MaxAdmittedFrames"/> alone. A frame is
    /// refused (UNAVAILABLE) once the frames admitted to its model would take longer than this to run at the model's
    /// measured executor time per frame: under overload the admitted frames wait about this long, however fast the
    /// model and the machine. <see cref="MaxAdmittedFrames"/> stays the upper bound.</summary>
    [Range(0, 10_000_000)]
    public int MaxExpectedWaitMicroseconds { get; set; } = 5000;

    /// <summary>Most frames of any streams run together in one stage run; 1 turns batching off.</summary>
    [Range(1, 1024)]
    public int MaxBatchSize { get; set; } = 8;

    /// <summary>How long a batch that is not full may wait for more frames, in microseconds (never past a frame's
    /// budget); 0 runs at once with whatever is queued.</summary>
    [Range(0, 1_000_000)]
    public int MaxQueueDelayMicroseconds { get; set; }

    /// <summary>Load-adaptive quality, off when empty: <c>LOAD=PRESET</c> rungs, comma separated (for example
    /// <c>0.5=balanced,0.75=fast</c>). Once a model's admitted frames reach LOAD times its bound in force (<see cref="MaxAdmittedFrames"/>, or less by <see cref="MaxExpectedWaitMicroseconds"/>),
    /// frames that run a preset run with PRESET instead (the highest rung reached); events name the preset used.</summary>
    public string? QualityLadder { get; set; }

    /// <summary>Threads per model that run batches; 0 for one per core.</summary>
    [Range(0, 256)]
    public int Executors { get; set; }

    /// <summary>Nice value (0..19) of the executor threads on Linux; above 0, reading, refusing and writing run before
    /// stage runs when the cores are saturated.</summary>
    [Range(0, 19)]
    public int ExecutorNiceness { get; set; }

    /// <summary>A frame that arrives while its model is idle runs on the thread that read it instead of waking an
    /// executor (a thread hand-off each way less per frame at camera rates); under load the executors run frames.</summary>
    public bool RunOnCallerWhenIdle { get; set; } = true;

    /// <summary>Let ONNX Runtime's intra-op threads spin while idle (faster hand-offs, a busy core each at low rates).</summary>
    public bool AllowSpinning { get; set; }

    /// <summary>Streams (both protocols) open at once; one more is refused with RESOURCE_EXHAUSTED.</summary>
    [Range(1, 100_000)]
    public int MaxStreams { get; set; } = 256;

    /// <summary>Concurrent HTTP/2 streams (calls) per client connection (Kestrel's limit; more wait at the client).</summary>
    [Range(1, 10_000)]
    public int MaxStreamsPerConnection { get; set; } = 100;

    /// <summary>HTTP/2 flow-control window per stream, in bytes (at least 65,535): how much a client may send that the
    /// server has not read. Small, so that frames do not wait unseen in transport buffers.</summary>
    [Range(65_535, 16 * 1024 * 1024)]
    public int Http2StreamWindowBytes { get; set; } = 65_535;

    /// <summary>Classes listed in a prediction's top-k when a request does not say.</summary>
    [Range(1, 1000)]
    public int DefaultTopK { get; set; } = 5;

    /// <summary>ONNX Runtime intra-op threads per stage session; 0 for ONNX Runtime's default (all cores). 1 (the default)
    /// leaves the parallelism to the executors, one per core.</summary>
    [Range(0, 1024)]
    public int IntraOpThreads { get; set; } = 1;

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

    /// <summary>
    /// Address of the Open Inference Protocol's REST API (KServe v2 HTTP/JSON: <c>/v2/...</c>, HTTP/1.1), for example
    /// <c>http://*:8000</c>; empty (the default) for none. A listener of its own, as Triton serves HTTP beside gRPC.
    /// </summary>
    public string? RestUrl { get; set; }

    /// <summary>Seconds the server waits on shutdown (SIGTERM) for open streams to answer the frames they accepted; keep it
    /// below the orchestrator's grace period (Kubernetes' <c>terminationGracePeriodSeconds</c>).</summary>
    [Range(1, 3600)]
    public int DrainSeconds { get; set; } = 25;

    /// <summary>Seconds between looks at the model root: new models and versions load, changed files reload, removed
    /// models unload (a version that fails to load is refused, logged, and the old one keeps serving). 0 (the default)
    /// for none: models change only through the repository API (RepositoryModelLoad, RepositoryModelUnload).</summary>
    [Range(0, 86_400)]
    public double ModelPollSeconds { get; set; }

    /// <summary>Seconds a stream may stay open (less up to a tenth, at random); then it stops taking frames, answers those
    /// it took and ends UNAVAILABLE, as in a drain, so that clients reconnect and spread over the pods behind a balancer.
    /// 0 (the default) for no limit.</summary>
    [Range(0, 30 * 24 * 3600)]
    public double MaxStreamSeconds { get; set; }

    /// <summary>Largest decoded image, in pixels.</summary>
    [Range(1, 1L << 30)]
    public long MaxImagePixels { get; set; } = 4096L * 4096L;

    /// <summary>Bytes that image decodes of all models may hold at once (4 per source pixel, plus the resized input);
    /// a decode that does not fit waits for others to finish, and an image that needs more than all of it is refused
    /// (RESOURCE_EXHAUSTED). At least 4 x <see cref="MaxImagePixels"/> accepts every image the pixel limit allows.</summary>
    [Range(1024 * 1024, 1L << 40)]
    public long DecodeMemoryBytes { get; set; } = Runtime.Preprocessing.DecodeMemoryBudget.DefaultBytes;
}

/// <summary>What a stream does with a frame that arrives while its queue is full.</summary>
public enum StreamQueuePolicy
{
    /// <summary>Stop reading the stream until a frame starts: HTTP/2 flow control slows the client; nothing is dropped.</summary>
    Queue,

    /// <summary>Replace the stream's oldest frame that has not started; it ends with a DROPPED event.</summary>
    Latest,
}
