using System.Globalization;
using DfbNet.Core;
using DfbNet.Runtime;
using Proto = DfbNet.Protocol.V1;

namespace DfbNet.Server.Internal;

/// <summary>ClassifyStream's messages for a <see cref="FrameStreamSession{TRequest, TResponse}"/>: one model and its
/// settings for the whole stream (from the first message's options or call metadata), a frame per message.</summary>
internal sealed class NativeStreamProtocol(ResolvedOptions settings) : IFrameStreamProtocol<Proto.StreamRequest, Proto.ExitEvent>
{
    public string Description => $"{settings.Engine.Name} ({settings.Mode})";

    public StreamQueuePolicy? QueuePolicy => settings.QueuePolicy;

    // Options after the first message are ignored, as documented; a message with no frame carries nothing.
    public bool CarriesFrame(Proto.StreamRequest message) => message.Frame is not null;

    public StreamFrame Parse(Proto.StreamRequest message, long receivedTimestamp, long frameNumber)
    {
        var frame = message.Frame;
        var engine = settings.Engine;
        var id = string.IsNullOrEmpty(frame.FrameId) ? frameNumber.ToString(CultureInfo.InvariantCulture) : frame.FrameId;
        if (!ImageMapper.TryMap(frame.Image, "frame.image", out var image, out var error))
        {
            return Failed(engine, id, error!);
        }

        TimeSpan? budget = settings.Budget;
        if (frame.Budget is { } d)
        {
            try
            {
                budget = ResolvedOptions.ToBudget(d, "frame.budget") ?? settings.Budget;
            }
            catch (Grpc.Core.RpcException ex)
            {
                // A bad frame is answered with an error event; the stream goes on.
                return Failed(engine, id, ex.Status.Detail);
            }
        }

        return new StreamFrame(engine, settings.Settings.Frame(id, image, receivedTimestamp, budget), null, null);
    }

    public Proto.ExitEvent ToResponse(StreamFrame frame, ExitEvent exitEvent) =>
        EventMapper.ToProto(exitEvent, settings.Engine.Classes, settings.TopK);

    private static StreamFrame Failed(EarlyExitEngine engine, string id, string error) =>
        new(engine, null, FrameEvaluation.Failed(id, FrameErrorCode.InvalidArgument, error, TimeSpan.Zero), null);
}
