using DfbNet.Core;
using DfbNet.Runtime;
using DfbNet.Server.Internal;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Proto = DfbNet.Protocol.V1;

namespace DfbNet.Server.Services;

/// <summary>The native <c>dfbnet.v1.DfbNet</c> service.</summary>
internal sealed class DfbNetService : Proto.DfbNet.DfbNetBase
{
    private readonly ModelRegistry _models;
    private readonly StreamLimiter _streams;
    private readonly ServerDrain _drain;
    private readonly DfbNetServerOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<DfbNetService> _logger;

    public DfbNetService(ModelRegistry models, StreamLimiter streams, ServerDrain drain, IOptions<DfbNetServerOptions> options, TimeProvider clock, ILogger<DfbNetService> logger)
    {
        _drain = drain;
        _models = models;
        _streams = streams;
        _options = options.Value;
        _clock = clock;
        _logger = logger;
    }

    public override async Task<Proto.ClassifyResponse> Classify(Proto.ClassifyRequest request, ServerCallContext context)
    {
        var received = _clock.GetTimestamp();
        _streams.Callers.For(context)?.TakeFrameOrThrow();
        using var model = _models.Lease(ResolvedOptions.ModelName(request.Options, context.RequestHeaders));
        var settings = ResolvedOptions.Resolve(request.Options, context.RequestHeaders, model.Engine, _options);
        var image = ImageMapper.MapOrThrow(request.Image, "image");
        var engine = settings.Engine;
        var frame = settings.Settings.Frame(string.IsNullOrEmpty(request.FrameId) ? "0" : request.FrameId, image, received);

        var response = new Proto.ClassifyResponse { Model = engine.Name };
        await foreach (var e in engine.ClassifyAsync(frame, context.CancellationToken))
        {
            if (e.Kind == ExitKind.Error)
            {
                throw new RpcException(new Status(EventMapper.ToStatusCode(e.ErrorCode), e.Error ?? "The frame failed."));
            }

            response.Events.Add(EventMapper.ToProto(e, engine.Classes, settings.TopK));
        }

        response.Answer = response.Events[^1];
        return response;
    }

    public override async Task ClassifyStream(IAsyncStreamReader<Proto.StreamRequest> requestStream, IServerStreamWriter<Proto.ExitEvent> responseStream, ServerCallContext context)
    {
        using var lease = _streams.Enter(context);
        if (!await requestStream.MoveNext(context.CancellationToken))
        {
            return;
        }

        var received = _clock.GetTimestamp();
        var first = requestStream.Current;
        // The first message's settings are checked now (a bad preset fails the call); each frame then leases the
        // model's served version and is resolved against it.
        var settings = ResolvedOptions.Resolve(first.Options, context.RequestHeaders, _models.GetOrThrow(ResolvedOptions.ModelName(first.Options, context.RequestHeaders)), _options);
        var protocol = new NativeStreamProtocol(_models, first.Options, context.RequestHeaders, _options, settings);
        var session = new FrameStreamSession<Proto.StreamRequest, Proto.ExitEvent>(requestStream, responseStream, protocol, context, lease.Caller, _options, _drain, _clock, _logger);
        await session.RunAsync(first, received);
    }

    public override Task<Proto.ModelInfo> GetModelInfo(Proto.GetModelInfoRequest request, ServerCallContext context)
    {
        var engine = _models.GetOrThrow(request.Model);

        var manifest = engine.Manifest;
        var info = new Proto.ModelInfo
        {
            Name = engine.Name,
            Description = manifest.Description ?? "",
            Untrained = manifest.Untrained,
            InputWidth = manifest.Input.Width,
            InputHeight = manifest.Input.Height,
            DefaultPreset = manifest.Thresholds.Default,
            ExecutionProvider = engine.ExecutionProvider,
            DefaultMode = EventMapper.ToProto(_options.DefaultMode),
            IsDefault = engine.Name == _models.DefaultModel,
        };
        info.Classes.Add(manifest.Classes);
        info.ServedModels.Add(_models.Names);
        foreach (var stage in engine.Stages)
        {
            var exit = new Proto.ExitInfo
            {
                Exit = stage.Index + 1,
                StageFile = stage.Spec.File,
                Flops = stage.Spec.Flops,
                Parameters = stage.Spec.Parameters,
                ExecutionProvider = stage.Provider,
                CapturesGraph = stage.CapturesGraph,
                LatencyEstimate = Duration.FromTimeSpan(engine.Latency.Estimate(stage.Index)),
            };
            if (manifest.Accuracy?.Exits is { } acc)
            {
                exit.Accuracy = acc[stage.Index];
            }

            info.Exits.Add(exit);
        }

        foreach (var (name, values) in manifest.Thresholds.Presets)
        {
            var preset = new Proto.ThresholdPreset { Name = name };
            preset.Values.Add(values);
            if (manifest.Accuracy?.Presets?.TryGetValue(name, out var a) == true)
            {
                preset.Accuracy = a;
            }

            info.Presets.Add(preset);
        }

        return Task.FromResult(info);
    }
}
