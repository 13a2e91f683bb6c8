using System.Globalization;
using DfbNet.Core;
using Grpc.Core;
using Proto = DfbNet.Protocol.V1;

namespace DfbNet.Server.Internal;

/// <summary>ClassifyStream's messages for a <see cref="FrameStreamSession{TRequest, TResponse}"/>: one model and its
/// settings for the whole stream (from the first message's options or call metadata), a frame per message. Each frame
/// leases the model's served version: after a reload the stream's next frames run on the new version (its settings
/// resolved again against it) while those already taken finish on the old one.</summary>
internal sealed class NativeStreamProtocol(ModelRegistry models, Proto.StreamOptions? options, Metadata headers, DfbNetServerOptions defaults, ResolvedOptions first)
    : IFrameStreamProtocol<Proto.StreamRequest, Proto.ExitEvent>
{
    private readonly string? _model = ResolvedOptions.ModelName(options, headers);
    private readonly ResolvedOptions _first = first;

    // The settings of the version frames last ran on; only the reader (one thread) parses.
    private ResolvedOptions _settings = first;

    public string Description => $"{_first.Engine.Name} ({_first.Mode})";

    public StreamQueuePolicy? QueuePolicy => _first.QueuePolicy;

    // Options after the first message are ignored, as documented; a message with no frame carries nothing.
    public bool CarriesFrame(Proto.StreamRequest message) => message.Frame is not null;

    public StreamFrame Parse(Proto.StreamRequest message, long receivedTimestamp, long frameNumber)
    {
        var frame = message.Frame;
        var id = string.IsNullOrEmpty(frame.FrameId) ? frameNumber.ToString(CultureInfo.InvariantCulture) : frame.FrameId;
        if (!ImageMapper.TryMap(frame.Image, "frame.image", out var image, out var error))
        {
            return Failed(id, FrameErrorCode.InvalidArgument, error!);
        }

        ModelLease model;
        try
        {
            model = models.Lease(_model);
        }
        catch (RpcException ex)
        {
            // Unloaded while the stream was open: this frame is refused, the stream goes on (a reload serves it again).
            return Failed(id, EventMapper.FromStatusCode(ex.StatusCode), ex.Status.Detail);
        }

        try
        {
            var settings = _settings;
            if (!ReferenceEquals(settings.Engine, model.Engine))
            {
                settings = _settings = ResolvedOptions.Resolve(options, headers, model.Engine, defaults);
            }

            TimeSpan? budget = settings.Budget;
            if (frame.Budget is { } d)
            {
                budget = ResolvedOptions.ToBudget(d, "frame.budget") ?? settings.Budget;
            }

            return new StreamFrame(model.Engine, settings.Settings.Frame(id, image, receivedTimestamp, budget), null, null) { Model = model };
        }
        catch (RpcException ex)
        {
            // A bad frame (or settings the new version refuses) is answered with an error event; the stream goes on.
            model.Dispose();
            return Failed(id, EventMapper.FromStatusCode(ex.StatusCode), ex.Status.Detail);
        }
    }

    public Proto.ExitEvent ToResponse(StreamFrame frame, ExitEvent exitEvent) =>
        EventMapper.ToProto(exitEvent, (frame.Engine ?? _first.Engine).Classes, _first.TopK);

    private static StreamFrame Failed(string id, FrameErrorCode code, string error) =>
        new(null, null, FrameEvaluation.Failed(id, code, error, TimeSpan.Zero), null);
}
