using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using DfbNet.LoadBench.Processes;
using DfbNet.LoadBench.Reporting;

namespace DfbNet.LoadBench.Scenarios;

/// <summary>
/// <c>overload</c>: 16 streams at three times the reference capacity on a server with its defaults. How fast does it say
/// no (refusal latency), with which codes, and what happens to the frames it admits (their final-event p99 against the
/// p99 at capacity)? Every frame sent must still end with one final event.
/// </summary>
internal sealed class OverloadScenario : IScenario
{
    public const double Factor = 3;

    public string Name => "overload";

    private static LoadSpec Spec(bool quick, double rate) => new()
    {
        Streams = BenchContext.ReferenceStreams,
        Rate = rate,
        WarmupSeconds = quick ? 1 : 2,
        DurationSeconds = quick ? 2 : 5,
        DrainSeconds = 5,
    };

    public TimeSpan Estimate(BenchContext context)
    {
        // A reference run at capacity where the capacity was given rather than measured.
        var runs = context.Options.Capacity is not null && !context.Options.Scenarios.Contains("capacity") ? 2 : 1;
        return TimeSpan.FromSeconds(runs * (BenchContext.ServerSeconds + BenchContext.Seconds(Spec(context.Quick, 1)) + 2));
    }

    public async Task<ScenarioReport> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var capacity = await context.ReferenceCapacityAsync(cancellationToken);
        var p99AtCapacity = context.P99AtCapacity;
        LoadRun? reference = null;
        if (p99AtCapacity is null)
        {
            reference = await context.LoadOnFreshServerAsync(Name, string.Create(CultureInfo.InvariantCulture, $"reference: 16 streams at capacity, {capacity:0}/s"), Spec(context.Quick, capacity), ServerSettings.Defaults, cancellationToken);
            p99AtCapacity = reference.FinalP99;
        }

        var rate = Factor * capacity;
        var run = await context.LoadOnFreshServerAsync(Name, string.Create(CultureInfo.InvariantCulture, $"16 streams at 3 x capacity, {rate:0}/s"), Spec(context.Quick, rate), ServerSettings.Defaults, cancellationToken);
        var p99 = run.FinalP99;
        double? ratio = p99 is { } a && p99AtCapacity is { } b && b > 0 ? a / b : null;
        var c = CultureInfo.InvariantCulture;
        var ended = run.Count("answered") + run.Count("expired") + run.Count("refused") + run.Count("dropped") + run.Count("errors");

        var text = new StringBuilder();
        text.AppendLine(c, $"16 streams at {Factor:0} x the reference capacity ({capacity:0} frames/s from {context.CapacitySource}): {rate:0} frames/s offered for {Spec(context.Quick, 1).DurationSeconds:0} s after {Spec(context.Quick, 1).WarmupSeconds:0} s of warm-up, server defaults. Refusal latency runs from the refused frame's write to its refusal; admitted frames are those answered.");
        text.AppendLine();
        text.Append(Markdown.Table(["figure", "value"], new List<IReadOnlyList<string>>
        {
            new[] { "offered / sent / answers per s", $"{Markdown.Rate(run.Offered)} / {Markdown.Rate(run.Count("sent") / Spec(context.Quick, 1).DurationSeconds)} / {Markdown.Rate(run.Throughput)}" },
            new[] { "frames sent", run.Count("sent").ToString(c) },
            new[] { "answered (admitted)", run.Count("answered").ToString(c) },
            new[] { "refused", run.Count("refused").ToString(c) + $" ({Markdown.Percent(run.Count("sent") == 0 ? null : (double)run.Count("refused") / run.Count("sent"))} of those sent)" },
            new[] { "refusals by code", Markdown.Counts(run.RefusalsByCode) },
            new[] { "expired / dropped / errors / unsent", $"{run.Count("expired")} / {run.Count("dropped")} / {run.Count("errors")} / {run.Count("unsent")}" },
            new[] { "counts add up", run.CountsAddUp ? $"yes: sent {run.Count("sent")} = answered + expired + refused + dropped + errors = {ended}" : $"NO: sent {run.Count("sent")}, ended {ended}, {run.Count("noFinalEvent")} without a final event" },
            new[] { "refusal latency p50 / p99 / max (ms)", $"{Markdown.Ms(run.Latency("refusalMs", "p50"))} / {Markdown.Ms(run.Latency("refusalMs", "p99"))} / {Markdown.Ms(run.Latency("refusalMs", "max"))}" },
            new[] { "admitted final-event p50 / p99 (ms)", $"{Markdown.Ms(run.FinalP50)} / {Markdown.Ms(p99)}" },
            new[] { "final-event p99 at capacity (ms)", Markdown.Ms(p99AtCapacity) + (reference is null ? " (the capacity step)" : " (a reference run at capacity)") },
            new[] { "p99 ratio, overload / capacity", Markdown.Number(ratio) },
            new[] { "server time p50 / p99 (ms)", $"{Markdown.Ms(run.Latency("serverTimeMs", "p50"))} / {Markdown.Ms(run.Latency("serverTimeMs", "p99"))}" },
            new[] { "write lag p99 (ms, the generator's own delay)", Markdown.Ms(run.Latency("writeLagMs", "p99")) },
            new[] { "mean batch", Markdown.Number(run.MeanBatch) },
            new[] { "server / generator cores", $"{Markdown.Number(run.ServerCores)} / {Markdown.Number(run.ClientCores)}" },
        }));
        if (!run.HasResult)
        {
            text.AppendLine().AppendLine("The run FAILED: " + run.Error);
        }

        var summary = new JsonObject
        {
            ["capacity"] = capacity,
            ["offered"] = rate,
            ["sent"] = run.Count("sent"),
            ["answered"] = run.Count("answered"),
            ["refused"] = run.Count("refused"),
            ["refusalsByCode"] = new JsonObject([.. run.RefusalsByCode.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))]),
            ["refusalMsP50"] = run.Latency("refusalMs", "p50"),
            ["refusalMsP99"] = run.Latency("refusalMs", "p99"),
            ["refusalMsMax"] = run.Latency("refusalMs", "max"),
            ["admittedFinalP99"] = p99,
            ["p99AtCapacity"] = p99AtCapacity,
            ["p99Ratio"] = ratio,
            ["countsAddUp"] = run.CountsAddUp,
        };
        return new ScenarioReport(Name, "Overload: 3x capacity", text.ToString(), summary, []);
    }
}
