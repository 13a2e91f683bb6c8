using DfbNet.Protocol.V1;

namespace DfbNet.Client;

/// <summary>What a frame event reports, in SDK terms (the wire's <see cref="ExitKind"/> without its UNSPECIFIED value).</summary>
public enum FrameEventKind
{
    /// <summary>An exit ran and was not confident (refine and full modes report these).</summary>
    BelowThreshold,

    /// <summary>An exit was confident: the frame's answer.</summary>
    EarlyExit,

    /// <summary>A later exit's refinement of an answer (refine mode).</summary>
    Refinement,

    /// <summary>The mean of the exits' probabilities (no exit was confident, or full mode).</summary>
    Fused,

    /// <summary>The frame's budget ran out: the best answer so far, or none when no exit ran.</summary>
    BudgetCut,

    /// <summary>A newer frame took this one's place in the stream's queue (the latest policy).</summary>
    Dropped,

    /// <summary>The frame failed; <see cref="FrameEvent.ErrorCode"/> says how.</summary>
    Error,
}

/// <summary>One class and its probability.</summary>
public sealed record ScoredClass(int ClassIndex, string ClassName, float Probability);

/// <summary>An exit's answer: the most probable class and the top-k.</summary>
public sealed record ClassPrediction(int ClassIndex, string ClassName, float Confidence, IReadOnlyList<ScoredClass> TopK);

/// <summary>
/// A frame event in SDK types, made from the wire's <see cref="ExitEvent"/> (<see cref="FromWire"/>), which stays
/// reachable on <see cref="StreamEvent.Wire"/> and <see cref="ClassifyResult.Wire"/>.
/// </summary>
/// <param name="FrameId">The frame's id.</param>
/// <param name="Exit">1..M for an exit's own event; 0 for a fused answer, a budget cut, a drop or an error.</param>
/// <param name="Kind">What the event reports.</param>
/// <param name="Prediction">The answer it carries; null for an error, a drop, or a budget cut before exit 1.</param>
/// <param name="IsFinal">The frame's last event.</param>
/// <param name="ServerTime">The server's time from the frame's arrival to this event.</param>
/// <param name="QueueTime">The frame's wait in the server's queues before its first stage.</param>
/// <param name="ExitsComputed">Exits the server ran for the frame so far.</param>
/// <param name="ErrorCode">For <see cref="FrameEventKind.Error"/>: the gRPC status, for example
/// <see cref="Grpc.Core.StatusCode.Unavailable"/> for a refusal at admission; null otherwise.</param>
/// <param name="Error">For an error: the server's one-line reason.</param>
/// <param name="Preset">The threshold preset that answered (a quality ladder may pick another than asked).</param>
public sealed record FrameEvent(
    string FrameId,
    int Exit,
    FrameEventKind Kind,
    ClassPrediction? Prediction,
    bool IsFinal,
    TimeSpan ServerTime,
    TimeSpan QueueTime,
    int ExitsComputed,
    Grpc.Core.StatusCode? ErrorCode,
    string? Error,
    string? Preset)
{
    /// <summary>The event in SDK types.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="wire"/> is null.</exception>
    public static FrameEvent FromWire(ExitEvent wire)
    {
        ArgumentNullException.ThrowIfNull(wire);
        var kind = wire.Kind switch
        {
            ExitKind.BelowThreshold => FrameEventKind.BelowThreshold,
            ExitKind.EarlyExit => FrameEventKind.EarlyExit,
            ExitKind.Refinement => FrameEventKind.Refinement,
            ExitKind.Fused => FrameEventKind.Fused,
            ExitKind.BudgetCut => FrameEventKind.BudgetCut,
            ExitKind.Dropped => FrameEventKind.Dropped,
            _ => FrameEventKind.Error,
        };
        Grpc.Core.StatusCode? code = kind == FrameEventKind.Error
            ? Enum.TryParse<Grpc.Core.StatusCode>(wire.ErrorCode, ignoreCase: true, out var parsed) ? parsed : Grpc.Core.StatusCode.Unknown
            : null;
        return new FrameEvent(
            wire.FrameId,
            wire.Exit,
            kind,
            wire.Prediction is { } p ? new ClassPrediction(p.ClassIndex, p.ClassName, p.Confidence, [.. p.TopK.Select(s => new ScoredClass(s.ClassIndex, s.ClassName, s.Probability))]) : null,
            wire.Final,
            wire.ServerTime?.ToTimeSpan() ?? TimeSpan.Zero,
            wire.QueueTime?.ToTimeSpan() ?? TimeSpan.Zero,
            wire.ExitsComputed,
            code,
            string.IsNullOrEmpty(wire.Error) ? null : wire.Error,
            string.IsNullOrEmpty(wire.Preset) ? null : wire.Preset);
    }
}

/// <summary>A classification in SDK types: the answer and every event computed for it, in order.</summary>
/// <param name="Model">The model that answered.</param>
/// <param name="Answer">The final event (the last of <paramref name="Events"/>).</param>
/// <param name="Events">Every exit event, in order.</param>
public sealed record ClassifyResult(string Model, FrameEvent Answer, IReadOnlyList<FrameEvent> Events)
{
    /// <summary>The response as it came over the wire.</summary>
    public required ClassifyResponse Wire { get; init; }

    /// <summary>The response in SDK types.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="wire"/> is null.</exception>
    public static ClassifyResult FromWire(ClassifyResponse wire)
    {
        ArgumentNullException.ThrowIfNull(wire);
        List<FrameEvent> events = [.. wire.Events.Select(FrameEvent.FromWire)];

        // The answer is the last event: the same instance, not a second copy of it.
        return new ClassifyResult(wire.Model, events.Count > 0 ? events[^1] : FrameEvent.FromWire(wire.Answer), events) { Wire = wire };
    }
}
