using System.Reflection;
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
    private static readonly string ServerVersion =
        typeof(OpenInferenceService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    private readonly ModelRegistry _models;
    private readonly DfbNetServerOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<OpenInferenceService> _logger;

    public OpenInferenceService(ModelRegistry models, IOptions<DfbNetServerOptions> options, TimeProvider clock, ILogger<OpenInferenceService> logger)
    {
        _models = models;
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
        Task.FromResult(new Inference.ServerMetadataResponse
        {
            Name = "dfbnet",
            Version = ServerVersion,
            Extensions = { "classification", "model_configuration", "statistics" },
        });

    public override Task<Inference.ModelMetadataResponse> ModelMetadata(Inference.ModelMetadataRequest request, ServerCallContext context)
    {
        var engine = OipModels.Find(_models, request.Name, request.Version);
        var input = engine.Manifest.Input;
        return Task.FromResult(new Inference.ModelMetadataResponse
        {
            Name = engine.Name,
            Versions = { OipTensors.Version },
            Platform = "dfbnet",
            Inputs =
            {
                Tensor(OipTensors.Image, OipTensors.Bytes, 1),
                Tensor(OipTensors.Frame, OipTensors.UInt8, -1, -1, 3),
                Tensor(OipTensors.Tensor, OipTensors.Fp32, 1, 3, input.Height, input.Width),
            },
            Outputs = { Tensor(OipTensors.Probabilities, OipTensors.Fp32, 1, engine.Classes.Count) },
        });
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
            MaxBatchSize = 0,
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
            response.ModelStats.Add(new Inference.ModelStatistics
            {
                Name = engine.Name,
                Version = OipTensors.Version,
                LastInference = (ulong)s.LastInferenceUnixMs,
                InferenceCount = (ulong)s.SuccessCount,
                ExecutionCount = (ulong)s.StageExecutions,
                InferenceStats = new Inference.InferStatistics
                {
                    Success = Duration(s.SuccessCount, s.SuccessTime),
                    Fail = Duration(s.FailCount, s.FailTime),
                    Queue = Duration(0, TimeSpan.Zero),
                    ComputeInput = Duration(s.InputCount, s.InputTime),
                    ComputeInfer = Duration(s.InferCount, s.InferTime),
                    ComputeOutput = Duration(0, TimeSpan.Zero),
                },
            });
        }

        return Task.FromResult(response);
    }

    public override async Task<Inference.ModelInferResponse> ModelInfer(Inference.ModelInferRequest request, ServerCallContext context)
    {
        var parsed = OipRequest.Parse(request, _models, _options, _clock.GetTimestamp());
        ExitEvent? final = null;
        await foreach (var e in parsed.Engine.ClassifyAsync(parsed.Frame, context.CancellationToken))
        {
            final = e;
        }

        if (final is null || final.Kind == ExitKind.Error)
        {
            throw new RpcException(new Status(EventMapper.ToStatusCode(final?.ErrorCode ?? FrameErrorCode.Internal), final?.Error ?? "The request produced no answer."));
        }

        return OipResponses.Build(parsed, final);
    }

    public override async Task ModelStreamInfer(IAsyncStreamReader<Inference.ModelInferRequest> requestStream, IServerStreamWriter<Inference.ModelStreamInferResponse> responseStream, ServerCallContext context)
    {
        var token = context.CancellationToken;
        await foreach (var request in requestStream.ReadAllAsync(token))
        {
            OipRequest parsed;
            try
            {
                parsed = OipRequest.Parse(request, _models, _options, _clock.GetTimestamp());
            }
            catch (RpcException ex)
            {
                // A bad request inside a stream is answered with an error response; the stream goes on.
                OipLog.StreamRequestRejected(_logger, request.Id, ex.Status.Detail);
                await responseStream.WriteAsync(Error(request, ex.Status), token);
                continue;
            }

            await foreach (var e in parsed.Engine.ClassifyAsync(parsed.Frame, token))
            {
                if (e.Kind == ExitKind.Error)
                {
                    await responseStream.WriteAsync(Error(request, new Status(EventMapper.ToStatusCode(e.ErrorCode), e.Error ?? "")), token);
                    continue;
                }

                var response = OipResponses.Build(parsed, e);
                response.Parameters["triton_final_response"] = new Inference.InferParameter { BoolParam = e.IsFinal };
                await responseStream.WriteAsync(new Inference.ModelStreamInferResponse { InferResponse = response }, token);
            }
        }
    }

    private static Inference.ModelStreamInferResponse Error(Inference.ModelInferRequest request, Status status)
    {
        var response = new Inference.ModelInferResponse { ModelName = request.ModelName, ModelVersion = request.ModelVersion, Id = request.Id };
        response.Parameters["triton_final_response"] = new Inference.InferParameter { BoolParam = true };
        response.Parameters["status_code"] = new Inference.InferParameter { StringParam = status.StatusCode.ToString() };
        return new Inference.ModelStreamInferResponse { ErrorMessage = status.Detail, InferResponse = response };
    }

    private static Inference.ModelMetadataResponse.Types.TensorMetadata Tensor(string name, string datatype, params long[] shape) =>
        new() { Name = name, Datatype = datatype, Shape = { shape } };

    private static Inference.StatisticDuration Duration(long count, TimeSpan time) =>
        new() { Count = (ulong)count, Ns = (ulong)(time.Ticks * 100) };
}
