using Microsoft.Extensions.Logging;

namespace DfbNet.Runtime;

/// <summary>Source-generated log messages of the runtime.</summary>
internal static partial class RuntimeLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "Execution provider {Provider} skipped for {ModelPath}: {Reason}")]
    public static partial void ProviderSkipped(ILogger logger, string provider, string modelPath, string reason);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Model {Model} loaded: {Stages} stages on {Provider}, warm-up estimates {Estimates}")]
    public static partial void ModelLoaded(ILogger logger, string model, int stages, string provider, string estimates);

    [LoggerMessage(EventId = 102, Level = LogLevel.Debug, Message = "Frame {FrameId} rejected: {Reason}")]
    public static partial void FrameRejected(ILogger logger, string frameId, string reason);

    [LoggerMessage(EventId = 103, Level = LogLevel.Error, Message = "Frame {FrameId} failed at stage {Stage}")]
    public static partial void FrameFailed(ILogger logger, Exception exception, string frameId, int stage);
}
