using Microsoft.Extensions.Logging;

namespace DfbNet.Client.Internal;

/// <summary>Source-generated log messages of the client.</summary>
internal static partial class ClientLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "{Method} failed with {StatusCode}; retry {Retry} in {DelayMs:F0} ms")]
    public static partial void Retrying(ILogger logger, string method, Grpc.Core.StatusCode statusCode, int retry, double delayMs);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Stream broke with {StatusCode}; reconnection {Attempt} in {DelayMs:F0} ms resends {Pending} frames without a final event")]
    public static partial void Reconnecting(ILogger logger, Grpc.Core.StatusCode statusCode, int attempt, double delayMs, int pending);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Event for frame {FrameId}, which is not in flight; ignored")]
    public static partial void UnknownFrame(ILogger logger, string frameId);
}
