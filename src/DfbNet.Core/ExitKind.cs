namespace DfbNet.Core;

/// <summary>What an <see cref="ExitEvent"/> reports.</summary>
public enum ExitKind
{
    /// <summary>An exit ran and was not confident enough to answer; informational, never final.</summary>
    BelowThreshold = 0,

    /// <summary>The first confident exit: the frame's answer in first-exit mode.</summary>
    EarlyExit = 1,

    /// <summary>A later exit computed after the frame was answered (refine and full modes).</summary>
    Refinement = 2,

    /// <summary>The average of the softmax of all M exits (probability fusion).</summary>
    Fused = 3,

    /// <summary>The latency budget stopped the frame; the prediction is the fusion of the exits computed so far.</summary>
    BudgetCut = 4,

    /// <summary>The frame failed (bad image, engine error, refused at admission); no prediction.</summary>
    Error = 5,

    /// <summary>A newer frame of the same stream replaced this one before it started (the <c>latest</c> queue policy); no prediction.</summary>
    Dropped = 6,
}
