using System.Globalization;
using DfbNet.Protocol.V1;

namespace DfbNet.Cli.Streaming;

/// <summary>
/// Where a frame was answered, named the same way by every command (<c>classify</c>'s EXIT column, <c>stream</c>'s
/// summary): "exit k" when exit k was its first confident exit (EARLY_EXIT), whatever refinements followed in refine
/// mode; "fused" when no exit was confident and the answer is the fusion of the exits; "budget-cut" when the budget
/// ended it before any exit was confident; "error" when it failed.
/// </summary>
internal static class AnswerOrigin
{
    public const string Fused = "fused";
    public const string BudgetCut = "budget-cut";

    public static string ExitName(int exit) => string.Create(CultureInfo.InvariantCulture, $"exit {exit}");

    /// <param name="earlyExit">The exit of the frame's EARLY_EXIT event; null when it had none.</param>
    /// <param name="final">The frame's final event.</param>
    public static string Label(int? earlyExit, ExitEvent final)
    {
        ArgumentNullException.ThrowIfNull(final);
        return final.Kind == ExitKind.Error ? "error"
            : earlyExit is { } exit ? ExitName(exit)
            : final.Kind == ExitKind.BudgetCut ? BudgetCut
            : Fused;
    }

    /// <summary>The label of a frame from all its events.</summary>
    public static string Label(IEnumerable<ExitEvent> events, ExitEvent final) =>
        Label(events.FirstOrDefault(e => e.Kind == ExitKind.EarlyExit)?.Exit, final);
}
