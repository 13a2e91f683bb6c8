using DfbNet.Core;
using DfbNet.Runtime.Preprocessing;

namespace DfbNet.Runtime;

/// <summary>One frame to classify and how.</summary>
/// <param name="FrameId">Echoed in every event.</param>
/// <param name="Image">The pixels.</param>
/// <param name="Policy">Thresholds p_1..p_M.</param>
/// <param name="Mode">First-exit, refine or full.</param>
/// <param name="Budget">Latency budget from <paramref name="ReceivedTimestamp"/>; null for none.</param>
/// <param name="ReceivedTimestamp">When the frame arrived, from the engine's clock.</param>
public sealed record FrameRequest(string FrameId, ImageSource Image, ExitPolicy Policy, InferenceMode Mode, TimeSpan? Budget, long ReceivedTimestamp)
{
    /// <summary>Run exit 1 even when the budget cannot be met (a late answer rather than none).</summary>
    public bool AlwaysAnswer { get; init; }

    /// <summary>The trace the frame's span belongs to (its call's span, W3C trace context from the client); default for
    /// <see cref="System.Diagnostics.Activity.Current"/> where the frame is submitted.</summary>
    public System.Diagnostics.ActivityContext TraceParent { get; init; }

    /// <summary>A start-up frame of the engine's own: counted nowhere (statistics, metrics, latency estimates).</summary>
    internal bool IsWarmup { get; init; }
}
