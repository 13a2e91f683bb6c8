using System.Diagnostics;
using DfbNet.Cli.Load;
using DfbNet.Protocol.V1;

namespace DfbNet.Cli.Tests.Load;

public sealed class LoadRecorderTests
{
    private static readonly long Ms = Stopwatch.Frequency / 1000;

    [Fact]
    public void Summarize_SortsFramesByHowTheyEndedAndTimesThemFromTheSchedule()
    {
        // Window [1000 ms, 2000 ms); a warm-up frame at 900 ms; five measured frames.
        var recorder = new LoadRecorder(1000 * Ms, 2000 * Ms);
        Send(recorder, "w", 900, measured: false, budget: 0, label: 0);
        recorder.Event(Final("w", ExitKind.EarlyExit, exit: 1, classIndex: 0, serverMs: 1), 1005 * Ms);

        Send(recorder, "a", 1000, budget: 10, label: 3, writeLagMs: 2);
        recorder.Event(new LoadEvent("a", false, ExitKind.BelowThreshold, 1, 5, TimeSpan.FromMilliseconds(1), null, null), 1004 * Ms);
        recorder.Event(Final("a", ExitKind.EarlyExit, exit: 2, classIndex: 3, serverMs: 6), 1008 * Ms);
        Send(recorder, "b", 1100, budget: 10, label: 1);
        recorder.Event(Final("b", ExitKind.Fused, exit: 0, classIndex: 2, serverMs: 9), 1112 * Ms);
        Send(recorder, "c", 1200, budget: 0, label: 0);
        recorder.Event(new LoadEvent("c", true, ExitKind.Error, 0, -1, null, null, "Unavailable"), 1201 * Ms);
        Send(recorder, "d", 1300, budget: 0, label: 0);
        recorder.Event(new LoadEvent("d", true, ExitKind.Dropped, 0, -1, null, null, null), 1310 * Ms);
        Send(recorder, "e", 1400, budget: 0, label: 0);
        recorder.Event(new LoadEvent("e", true, ExitKind.Error, 0, -1, null, null, "InvalidArgument"), 1401 * Ms);

        var r = recorder.Summarize(Settings(), scheduled: 5, serverCpu: null, clientCpu: TimeSpan.FromMilliseconds(50));

        Assert.Equal(new LoadCounts(5, 5, 0, 2, 0, 1, 1, 1, 0, 0, 0), r.Counts);
        Assert.True(r.CountsAddUp);
        Assert.Equal(new Dictionary<string, int> { ["2"] = 1, ["fused"] = 1 }, r.FinalExits);
        Assert.Equal(new Dictionary<string, int> { ["Unavailable"] = 1, ["ResourceExhausted"] = 0 }, r.RefusalsByCode);
        Assert.Equal(new Dictionary<string, int> { ["InvalidArgument"] = 1 }, r.ErrorsByCode);

        // From the scheduled time: frame a's write started 2 ms late, and that counts.
        Assert.Equal([4.0, 8.0], [r.FirstEventMs.P50!.Value, r.FinalEventMs.P50!.Value]);
        Assert.Equal(12, r.FinalEventMs.Max);
        Assert.Equal(2, r.WriteLagMs.Max);
        Assert.Equal(1, r.RefusalMs.Max);

        // a: 8 ms at the client and 6 ms at the server, within 10; b: 12 ms at the client (within 10 + 3), 9 at the server.
        var budget = Assert.Single(r.Budgets);
        Assert.Equal(new BudgetOutcome(10, 2, 1, 2, 2), budget);
        Assert.Equal(new Accuracy(2, 1), r.Accuracy);

        // Throughput counts answers received in the window, the warm-up frame's included: 3 in 1 s.
        Assert.Equal(3, r.Rates.Throughput);
        Assert.Equal(5, r.Rates.Sent);
    }

    [Fact]
    public void Summarize_MissingDuplicateAndStrayFinalEvents_AreViolations()
    {
        var recorder = new LoadRecorder(0, 1000 * Ms);
        Send(recorder, "once", 10, budget: 0, label: 0);
        Send(recorder, "twice", 20, budget: 0, label: 0);
        Send(recorder, "never", 30, budget: 0, label: 0);
        recorder.Event(Final("once", ExitKind.EarlyExit, 1, 0, 1), 12 * Ms);
        recorder.Event(Final("twice", ExitKind.EarlyExit, 1, 0, 1), 22 * Ms);
        recorder.Event(Final("twice", ExitKind.Fused, 0, 0, 2), 23 * Ms);
        recorder.Event(Final("stray", ExitKind.EarlyExit, 1, 0, 1), 24 * Ms);

        var r = recorder.Summarize(Settings(), scheduled: 4, serverCpu: null, clientCpu: TimeSpan.Zero);

        Assert.Equal(new LoadCounts(4, 3, 1, 2, 0, 0, 0, 0, NoFinalEvent: 1, DuplicateFinalEvents: 1, UnknownEvents: 1), r.Counts);
        Assert.False(r.Counts.Balanced);
        Assert.False(r.CountsAddUp);
        Assert.Equal(3, r.Violations.Count);
        Assert.Contains(r.Violations, v => v.Contains("'never' has no final event", StringComparison.Ordinal));
        Assert.Contains(r.Violations, v => v.Contains("'twice' has 2 final events", StringComparison.Ordinal));
        Assert.Contains(r.Violations, v => v.Contains("'stray', which was never sent", StringComparison.Ordinal));
    }

    [Fact]
    public void Event_BudgetCutWithoutAPrediction_IsExpiredNotAnswered()
    {
        var recorder = new LoadRecorder(0, 1000 * Ms);
        Send(recorder, "late", 10, budget: 1, label: 0);
        recorder.Event(new LoadEvent("late", true, ExitKind.BudgetCut, 0, -1, TimeSpan.FromMilliseconds(0.5), null, null), 11 * Ms);

        var r = recorder.Summarize(Settings(1), scheduled: 1, serverCpu: null, clientCpu: TimeSpan.Zero);

        Assert.Equal(1, r.Counts.Expired);
        Assert.Equal(0, r.Counts.Answered);
        Assert.True(r.CountsAddUp);
        Assert.Equal(new BudgetOutcome(1, 1, 0, 0, 0), Assert.Single(r.Budgets));
    }

    private static void Send(LoadRecorder recorder, string id, long dueMs, double budget, int label, bool measured = true, long writeLagMs = 0)
    {
        recorder.Scheduled(id, dueMs * Ms, measured, budget, label);
        recorder.Written(id, (dueMs + writeLagMs) * Ms, (dueMs + writeLagMs) * Ms);
    }

    private static LoadEvent Final(string id, ExitKind kind, int exit, int classIndex, double serverMs) =>
        new(id, true, kind, exit, classIndex, TimeSpan.FromMilliseconds(serverMs), TimeSpan.Zero, null);

    private static LoadRunSettings Settings(params double[] budgetsMs) => new(
        "native", "http://127.0.0.1:1/", "tiny", 1, 5, 5, "fixed", 1, 1, 0, 0, budgetsMs.Length > 0 ? budgetsMs : [0, 10], "first-exit", "queue", false, "png", "test.bin", 1, 1);
}
