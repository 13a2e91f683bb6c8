namespace DfbNet.Core;

/// <summary>How far a frame runs once an exit is confident.</summary>
public enum InferenceMode
{
    /// <summary>Stop at the first exit whose confidence passes its threshold (the paper's Algorithm 1).</summary>
    FirstExit = 0,

    /// <summary>Answer at the first confident exit, then keep running later exits and fusion while the budget allows.</summary>
    Refine = 1,

    /// <summary>Run every exit and fuse them all (the accuracy ceiling); the budget is not applied.</summary>
    Full = 2,
}
