namespace DfbNet.Core;

/// <summary>A class distribution and its top class.</summary>
/// <param name="ClassIndex">argmax of <paramref name="Probabilities"/>.</param>
/// <param name="Confidence">The probability of <paramref name="ClassIndex"/>.</param>
/// <param name="Probabilities">Softmax over all classes (the exit's own, or a fusion); owned by this prediction.</param>
public sealed record Prediction(int ClassIndex, float Confidence, float[] Probabilities)
{
    /// <summary>Builds a prediction from a probability vector it takes ownership of.</summary>
    public static Prediction From(float[] probabilities)
    {
        var c = ExitPolicy.ArgMax(probabilities);
        return new Prediction(c, probabilities[c], probabilities);
    }
}

/// <summary>One thing that happened to one frame: an exit fired, was refined, fused, cut by the budget, or failed.</summary>
public sealed record ExitEvent
{
    /// <summary>The id the client gave the frame.</summary>
    public required string FrameId { get; init; }

    /// <summary>1..M for an exit's own event; 0 for fusion, a budget cut or an error.</summary>
    public required int Exit { get; init; }

    public required ExitKind Kind { get; init; }

    /// <summary>The exit's own prediction, or the fused one for <see cref="ExitKind.Fused"/> and <see cref="ExitKind.BudgetCut"/>; null on error.</summary>
    public Prediction? Prediction { get; init; }

    /// <summary>The mean softmax of the exits computed so far (probability fusion up to this point); null on error.</summary>
    public Prediction? RunningFusion { get; init; }

    /// <summary>How many exits have been computed for this frame when the event was made.</summary>
    public int ExitsComputed { get; init; }

    /// <summary>True on the frame's last event.</summary>
    public required bool IsFinal { get; init; }

    /// <summary>Server time since the frame was received.</summary>
    public required TimeSpan ServerTime { get; init; }

    /// <summary>What went wrong, on <see cref="ExitKind.Error"/>.</summary>
    public string? Error { get; init; }

    /// <summary>The status the failure maps to, on <see cref="ExitKind.Error"/>.</summary>
    public FrameErrorCode ErrorCode { get; init; }

    /// <summary>Time the frame waited in queues before its first stage ran; zero before then.</summary>
    public TimeSpan QueueTime { get; init; }

    /// <summary>The threshold preset the frame ran with (under load the quality ladder may pick a faster one than the
    /// request's); null for explicit thresholds and for frames that never ran.</summary>
    public string? Preset { get; init; }
}

/// <summary>Why a frame failed, independent of the wire protocol.</summary>
public enum FrameErrorCode
{
    None = 0,

    /// <summary>The input was malformed: corrupt or unsupported image, wrong raw shape, unknown option.</summary>
    InvalidArgument = 1,

    /// <summary>Out of a resource: the image is too large to decode, or a stream holds more than its share of a saturated model.</summary>
    ResourceExhausted = 2,

    /// <summary>An unexpected engine failure.</summary>
    Internal = 3,

    /// <summary>The model is saturated (its bound on admitted frames is reached): refused at once, try again later.</summary>
    Unavailable = 4,

    /// <summary>The model the frame is for is not served (unloaded while its stream was open).</summary>
    NotFound = 5,
}
