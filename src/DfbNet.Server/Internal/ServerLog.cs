using Microsoft.Extensions.Logging;

namespace DfbNet.Server.Internal;

/// <summary>Source-generated log messages of the server.</summary>
internal static partial class ServerLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Serving models {Models} from {ModelRoot}; default {DefaultModel}")]
    public static partial void ModelsLoaded(ILogger logger, string models, string modelRoot, string defaultModel);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Stream {StreamId} opened by {Client}: model {Model}, mode {Mode}")]
    public static partial void StreamOpened(ILogger logger, string streamId, string client, string model, string mode);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Stream {StreamId} closed after {Frames} frames")]
    public static partial void StreamClosed(ILogger logger, string streamId, long frames);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Stream {StreamId} cancelled by the client after {Frames} frames")]
    public static partial void StreamCancelled(ILogger logger, string streamId, long frames);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "Stream {StreamId} frame {FrameId} failed: {Error}")]
    public static partial void FrameFailed(ILogger logger, string streamId, string frameId, string error);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "Shutting down: health is NOT_SERVING, new calls are refused, open streams answer the frames they accepted and end")]
    public static partial void DrainStarted(ILogger logger);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "Stream {StreamId} ended with {Status} reading a message, after its {Frames} frames were answered")]
    public static partial void StreamReadFailed(ILogger logger, string streamId, string status, long frames);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Model {Model} version {Version} is served (was: {Previous}); frames taken by the old version finish on it")]
    public static partial void ModelVersionServed(ILogger logger, string model, string version, string previous);

    [LoggerMessage(EventId = 12, Level = LogLevel.Warning, Message = "Model {Model} version {Version} did not load, refused (served: {Served}): {Error}")]
    public static partial void ModelLoadFailed(ILogger logger, string model, string version, string served, string error);

    [LoggerMessage(EventId = 13, Level = LogLevel.Information, Message = "Model {Model} version {Version} unloaded; frames it took finish first")]
    public static partial void ModelUnloaded(ILogger logger, string model, string version);

    [LoggerMessage(EventId = 14, Level = LogLevel.Warning, Message = "Polling the model root failed: {Error}")]
    public static partial void ModelPollFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Stream {StreamId} reached its maximum lifetime: {Frames} frames accepted, all answered; the client reconnects")]
    public static partial void StreamLifetimeReached(ILogger logger, string streamId, long frames);

    [LoggerMessage(EventId = 9, Level = LogLevel.Information, Message = "Authentication is {State}: {Reason}; API keys {Keys}, JWT {Jwt}; TLS {Tls}")]
    public static partial void SecurityConfigured(ILogger logger, string state, string reason, int keys, string jwt, string tls);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "Stream {StreamId} drained for shutdown: {Frames} frames accepted, all answered")]
    public static partial void StreamDrained(ILogger logger, string streamId, long frames);
}

/// <summary>Source-generated log messages of the Open Inference Protocol service.</summary>
internal static partial class OipLog
{
    [LoggerMessage(EventId = 20, Level = LogLevel.Debug, Message = "ModelStreamInfer request {RequestId} rejected: {Reason}")]
    public static partial void StreamRequestRejected(ILogger logger, string requestId, string reason);
}
