using DfbNet.Protocol.V1;

namespace DfbNet.Cli.Load;

/// <summary>One event of a frame, whichever protocol carried it.</summary>
/// <param name="FrameId">The id the frame was sent with.</param>
/// <param name="Final">The frame's last event.</param>
/// <param name="Kind">What the event reports (the native kinds; the OIP <c>exit_kind</c> names map onto them).</param>
/// <param name="Exit">1..M for an exit's own event, 0 otherwise.</param>
/// <param name="ClassIndex">The predicted class, or -1 when the event carries no prediction.</param>
/// <param name="ServerTime">The server's time since the frame arrived, where reported.</param>
/// <param name="QueueTime">The frame's wait in the server's queues before its first stage, where reported.</param>
/// <param name="ErrorCode">On ERROR: the gRPC status code name ("Unavailable" for a refusal at admission).</param>
internal readonly record struct LoadEvent(string FrameId, bool Final, ExitKind Kind, int Exit, int ClassIndex, TimeSpan? ServerTime, TimeSpan? QueueTime, string? ErrorCode);

/// <summary>What every frame of a run is sent with: the model and how the server should treat the frames.</summary>
internal sealed record LoadCallSettings(string Model, InferenceMode Mode, string? Preset, QueuePolicy QueuePolicy, bool AlwaysAnswer, Grpc.Core.Metadata Headers);

/// <summary>Opens streams of one protocol to one server; the frames are turned into that protocol's messages once.</summary>
internal interface ILoadProtocol
{
    string Name { get; }

    /// <summary>Opens a stream; <paramref name="cancellationToken"/> cancels the call for good (the end of the drain).</summary>
    Task<ILoadStream> OpenAsync(CancellationToken cancellationToken);
}

/// <summary>
/// One open streaming call. One writer and one reader use it at a time, concurrently with each other: the writer
/// sends frames at their scheduled times whatever comes back, the reader takes events as they come.
/// </summary>
internal interface ILoadStream : IAsyncDisposable
{
    /// <summary>Sends frame <paramref name="frameIndex"/> of the frame set as <paramref name="frameId"/>. Returns when
    /// the message is handed to HTTP/2, which may wait for flow control.</summary>
    /// <param name="budgetMs">The frame's budget; 0 for none of its own.</param>
    Task WriteAsync(int frameIndex, string frameId, double budgetMs, CancellationToken cancellationToken);

    /// <summary>Says that no more frames follow, so that the server ends the call once every frame is answered.</summary>
    Task CompleteAsync();

    /// <summary>The events, until the server ends the call.</summary>
    IAsyncEnumerable<LoadEvent> ReadAllAsync(CancellationToken cancellationToken);
}
