using Microsoft.Extensions.Logging;

namespace DfbNet.Runtime;

/// <summary>Source-generated log messages of the runtime.</summary>
internal static partial class RuntimeLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "Execution provider {Provider} skipped (said once per process; details at Debug): {Reason}")]
    public static partial void ProviderSkipped(ILogger logger, string provider, string reason);

    [LoggerMessage(EventId = 113, Level = LogLevel.Debug, Message = "Execution provider {Provider} skipped for {ModelPath}: {Reason}")]
    public static partial void ProviderSkippedDetail(ILogger logger, string provider, string modelPath, string reason);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Model {Model} loaded: {Stages} stages on {Provider}, warm-up estimates {Estimates}")]
    public static partial void ModelLoaded(ILogger logger, string model, int stages, string provider, string estimates);

    [LoggerMessage(EventId = 102, Level = LogLevel.Debug, Message = "Frame {FrameId} rejected: {Reason}")]
    public static partial void FrameRejected(ILogger logger, string frameId, string reason);

    [LoggerMessage(EventId = 103, Level = LogLevel.Error, Message = "Frame {FrameId} failed at stage {Stage}")]
    public static partial void FrameFailed(ILogger logger, Exception exception, string frameId, int stage);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "Stage {Stage}: breaker opened, traffic moves from {From} to {To} for {BreakDuration}: {Reason}")]
    public static partial void ProviderBreakerOpened(ILogger logger, int stage, string from, string to, TimeSpan breakDuration, string reason);

    [LoggerMessage(EventId = 105, Level = LogLevel.Information, Message = "Stage {Stage}: probing {Provider} again")]
    public static partial void ProviderBreakerProbing(ILogger logger, int stage, string provider);

    [LoggerMessage(EventId = 106, Level = LogLevel.Information, Message = "Stage {Stage}: breaker closed, traffic back on {Provider}")]
    public static partial void ProviderBreakerClosed(ILogger logger, int stage, string provider);

    [LoggerMessage(EventId = 107, Level = LogLevel.Debug, Message = "Stage {Stage}: run moved from {Provider} to CPU: {Reason}")]
    public static partial void StageRunFellBack(ILogger logger, int stage, string provider, string reason);

    [LoggerMessage(EventId = 108, Level = LogLevel.Information, Message = "Stage {Stage} of {Model} runs on {Provider}")]
    public static partial void StageProvider(ILogger logger, int stage, string model, string provider);

    [LoggerMessage(EventId = 109, Level = LogLevel.Warning, Message = "Stage {Stage} ({File}) on {Provider} could not be captured as a graph; it runs without: {Reason}")]
    public static partial void GraphCaptureRefused(ILogger logger, int stage, string file, string provider, string reason);

    [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "Model {Model}: graph capture off for every stage, because stage {Stage} runs on {Provider} without it")]
    public static partial void GraphCaptureOff(ILogger logger, string model, int stage, string provider);

    [LoggerMessage(EventId = 111, Level = LogLevel.Information, Message = "Stage {Stage} of {Model} replays a captured graph on {Provider}")]
    public static partial void StageCapturesGraph(ILogger logger, int stage, string model, string provider);

    [LoggerMessage(EventId = 112, Level = LogLevel.Warning, Message = "Model {Model} has no preset '{Preset}': the quality ladder's rung at {Load} is skipped for it")]
    public static partial void QualityRungSkipped(ILogger logger, string model, string preset, double load);
}
