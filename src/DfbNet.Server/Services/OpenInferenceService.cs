using DfbNet.Core;
using DfbNet.Runtime;
using DfbNet.Server.Internal;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Inference = DfbNet.Protocol.Inference;

namespace DfbNet.Server.Services;

/// <summary>
/// The Open Inference Protocol (KServe v2) service <c>inference.GRPCInferenceService</c>, with Triton's
/// ModelStreamInfer: one response per exit event, the last one with <c>triton_final_response</c> true.
/// </summary>
internal sealed class OpenInferenceService : Inference.GRPCInferenceService.GRPCInferenceServiceBase
{
    private readonly ModelRegistry _models;
    private readonly StreamLimiter _streams;
    private readonly ServerDrain _drain;
    private readonly DfbNetServerOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<OpenInferenceService> _logger;
    private readonly RepositoryAccess _repositoryAccess;

    public OpenInferenceService(ModelRegistry models, StreamLimiter streams, ServerDrain drain, IOptions<DfbNetServerOptions> options, TimeProvider clock, ILogger<OpenInferenceService> logger, RepositoryAccess repositoryAccess)
    {
        _repositoryAccess = repositoryAccess;
        _drain = drain;
        _models = models;
        _streams = streams;
        _options = options.Value;
        _clock = clock;
        _logger = logger;
    }

    public override Task<Inference.ServerLiveResponse> ServerLive(Inference.ServerLiveRequest request, ServerCallContext context) =>
        Task.FromResult(new Inference.ServerLiveResponse { Live = true });

    // The registry loads every model before the server accepts calls, so a server that answers is ready.
    public override Task<Inference.ServerReadyResponse> ServerReady(Inference.ServerReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new Inference.ServerReadyResponse { Ready = _models.Names.Count > 0 });

    public override Task<Inference.ModelReadyResponse> ModelReady(Inference.ModelReadyRequest request, ServerCallContext context)
    {
        OipModels.Find(_models, request.Name, request.Version);
        return Task.FromResult(new Inference.ModelReadyResponse { Ready = true });
    }

    public override Task<Inference.ServerMetadataResponse> ServerMetadata(Inference.ServerMetadataRequest request, ServerCallContext context) =>
        Task.FromResult(OipViews.ServerMetadata());

    public override Task<Inference.ModelMetadataResponse> ModelMetadata(Inference.ModelMetadataRequest request, ServerCallContext context)
    {
        var engine = OipModels.Find(_models, request.Name, request.Version);
        return Task.FromResult(OipViews.ModelMetadata(engine, _models.VersionOf(engine.Name) ?? ""));
    }

    public override Task<Inference.ModelConfigResponse> ModelConfig(Inference.ModelConfigRequest request, ServerCallContext context)
    {
        var engine = OipModels.Find(_models, request.Name, request.Version);
        var manifest = engine.Manifest;
        var config = new Inference.ModelConfig
        {
            Name = engine.Name,
            Platform = "dfbnet",
            Backend = "dfbnet",
            MaxBatchSize = engine.MaxBatchSizes.Max(),
            DynamicBatching = engine.MaxBatchSizes.Max() > 1
                ? new Inference.ModelDynamicBatching
                {
                    MaxQueueDelayMicroseconds = (ulong)_options.MaxQueueDelayMicroseconds,
                    DefaultQueuePolicy = new Inference.ModelQueuePolicy
                    {
                        TimeoutAction = Inference.ModelQueuePolicy.Types.TimeoutAction.Reject,
                        MaxQueueSize = (uint)engine.Admission.Bound,
                        AllowTimeoutOverride = true,
                    },
                }
                : null,
            Input =
            {
                new Inference.ModelInput { Name = OipTensors.Image, DataType = Inference.DataType.TypeString, Dims = { 1 }, Optional = true },
                new Inference.ModelInput { Name = OipTensors.Frame, DataType = Inference.DataType.TypeUint8, Format = Inference.ModelInput.Types.Format.Nhwc, Dims = { -1, -1, 3 }, Optional = true },
                new Inference.ModelInput { Name = OipTensors.Tensor, DataType = Inference.DataType.TypeFp32, Format = Inference.ModelInput.Types.Format.Nchw, Dims = { 1, 3, manifest.Input.Height, manifest.Input.Width }, Optional = true },
            },
            Output = { new Inference.ModelOutput { Name = OipTensors.Probabilities, DataType = Inference.DataType.TypeFp32, Dims = { 1, engine.Classes.Count } } },

            // ModelStreamInfer answers one request with one response per exit event.
            ModelTransactionPolicy = new Inference.ModelTransactionPolicy { Decoupled = true },
        };
        config.Parameters["exits"] = new Inference.ModelParameter { StringValue = engine.ExitCount.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        config.Parameters["classes"] = new Inference.ModelParameter { StringValue = string.Join(",", engine.Classes) };
        config.Parameters["default_preset"] = new Inference.ModelParameter { StringValue = manifest.Thresholds.Default };
        foreach (var (name, values) in manifest.Thresholds.Presets)
        {
            config.Parameters["preset." + name] = new Inference.ModelParameter { StringValue = string.Join(",", values.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture))) };
        }

        config.Parameters["execution_provider"] = new Inference.ModelParameter { StringValue = engine.ExecutionProvider };
        config.Parameters["untrained"] = new Inference.ModelParameter { StringValue = manifest.Untrained ? "true" : "false" };
        return Task.FromResult(new Inference.ModelConfigResponse { Config = config });
    }

    public override Task<Inference.ModelStatisticsResponse> ModelStatistics(Inference.ModelStatisticsRequest request, ServerCallContext context)
    {
        var engines = string.IsNullOrEmpty(request.Name)
            ? _models.Names.Select(_models.GetOrThrow).ToList()
            : [OipModels.Find(_models, request.Name, request.Version)];
        var response = new Inference.ModelStatisticsResponse();
        foreach (var engine in engines)
        {
            var s = engine.Statistics.Snapshot();
            var stats = new Inference.ModelStatistics
            {
                Name = engine.Name,
                Version = _models.VersionOf(engine.Name) ?? "",
                LastInference = (ulong)s.LastInferenceUnixMs,
                InferenceCount = (ulong)s.SuccessCount,
                ExecutionCount = (ulong)s.StageExecutions,
                InferenceStats = new Inference.InferStatistics
                {
                    Success = Duration(s.SuccessCount, s.SuccessTime),
                    Fail = Duration(s.FailCount, s.FailTime),
                    Queue = Duration(s.SuccessCount, s.QueueTime),
                    ComputeInput = Duration(s.InputCount, s.InputTime),
                    ComputeInfer = Duration(s.InferCount, s.InferTime),
                    ComputeOutput = Duration(0, TimeSpan.Zero),
                },
            };

            // Stage runs by batch size (a frame runs one stage run per exit it reaches).
            foreach (var (size, runs, time) in engine.Statistics.RunsByBatchSize())
            {
                stats.BatchStats.Add(new Inference.InferBatchStatistics { BatchSize = (ulong)size, ComputeInfer = Duration(runs, time) });
            }

            response.ModelStats.Add(stats);
        }

        return Task.FromResult(response);
    }

    public override async Task<Inference.ModelInferResponse> ModelInfer(Inference.ModelInferRequest request, ServerCallContext context)
    {
        var received = _clock.GetTimestamp();
        _streams.Callers.For(context)?.TakeFrameOrThrow();
        var parsed = OipRequest.Parse(request, _models, _options, received);
        using var model = parsed.Model;
        return await OipResponses.InferAsync(parsed, context.CancellationToken);
    }

    public override async Task ModelStreamInfer(IAsyncStreamReader<Inference.ModelInferRequest> requestStream, IServerStreamWriter<Inference.ModelStreamInferResponse> responseStream, ServerCallContext context)
    {
        using var lease = _streams.Enter(context);
        var protocol = new OipStreamProtocol(_models, _options, ResolvedOptions.QueuePolicyFrom(context.RequestHeaders), _logger);
        var session = new FrameStreamSession<Inference.ModelInferRequest, Inference.ModelStreamInferResponse>(requestStream, responseStream, protocol, context, lease.Caller, _options, _drain, _clock, _logger);
        await session.RunAsync();
    }

    public override Task<Inference.RepositoryIndexResponse> RepositoryIndex(Inference.RepositoryIndexRequest request, ServerCallContext context)
    {
        CheckRepository(request.RepositoryName);
        var response = new Inference.RepositoryIndexResponse();
        foreach (var (name, version, state, reason) in _models.Index())
        {
            if (!request.Ready || state == "READY")
            {
                response.Models.Add(new Inference.RepositoryIndexResponse.Types.ModelIndex { Name = name, Version = version, State = state, Reason = reason });
            }
        }

        return Task.FromResult(response);
    }

    public override async Task<Inference.RepositoryModelLoadResponse> RepositoryModelLoad(Inference.RepositoryModelLoadRequest request, ServerCallContext context)
    {
        _repositoryAccess.Demand(context);
        CheckRepository(request.RepositoryName);
        long? version = null;
        if (request.Parameters.TryGetValue("version", out var parameter))
        {
            version = parameter.ParameterChoiceCase switch
            {
                Inference.ModelRepositoryParameter.ParameterChoiceOneofCase.Int64Param when parameter.Int64Param > 0 => parameter.Int64Param,
                Inference.ModelRepositoryParameter.ParameterChoiceOneofCase.StringParam when ModelRepositoryFolders.TryParseVersion(parameter.StringParam, out var v) => v,
                _ => throw new RpcException(new Status(StatusCode.InvalidArgument, "Parameter 'version' must be a positive integer (a version folder's name).")),
            };
        }

        await _models.LoadAsync(RequireModelName(request.ModelName), version, context.CancellationToken);
        return new Inference.RepositoryModelLoadResponse();
    }

    public override async Task<Inference.RepositoryModelUnloadResponse> RepositoryModelUnload(Inference.RepositoryModelUnloadRequest request, ServerCallContext context)
    {
        _repositoryAccess.Demand(context);
        CheckRepository(request.RepositoryName);
        await _models.UnloadAsync(RequireModelName(request.ModelName), context.CancellationToken);
        return new Inference.RepositoryModelUnloadResponse();
    }

    /// <summary>DfbNet has one repository, its model root; Triton clients name it or leave it empty.</summary>
    private void CheckRepository(string name)
    {
        if (!string.IsNullOrEmpty(name) && name != Path.GetFileName(_models.Root.TrimEnd(Path.DirectorySeparatorChar)) && name != _models.Root)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"Repository '{name}' is not this server's; it has one, '{_models.Root}' (leave repository_name empty)."));
        }
    }

    private static string RequireModelName(string name) =>
        string.IsNullOrEmpty(name) ? throw new RpcException(new Status(StatusCode.InvalidArgument, "model_name is empty.")) : name;

    private static Inference.StatisticDuration Duration(long count, TimeSpan time) =>
        new() { Count = (ulong)count, Ns = (ulong)(time.Ticks * 100) };
}
