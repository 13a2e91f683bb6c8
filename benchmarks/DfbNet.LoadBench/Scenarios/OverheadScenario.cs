using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using DfbNet.LoadBench.Processes;
using DfbNet.LoadBench.Reporting;

namespace DfbNet.LoadBench.Scenarios;

/// <summary>
/// <c>overhead</c>: one stream at 50 fps (one frame in flight) against a server with its defaults, and the same flags
/// with <c>--in-process models/default</c> (the engine in the load generator's process, decoding included in both). The
/// ratio of final-event p50s is what serving adds (gRPC, HTTP/2, the stream session); target at most
/// <see cref="Target"/>. Twice each, taking turns.
/// </summary>
internal sealed class OverheadScenario : IScenario
{
    public const double Fps = 50;
    public const double Target = 1.3;

    public string Name => "overhead";

    private static int Repeats(bool quick) => quick ? 1 : 2;

    private static LoadSpec Spec(bool quick) => new()
    {
        Streams = 1,
        Rate = Fps,
        WarmupSeconds = quick ? 1 : 2,
        DurationSeconds = quick ? 2 : 5,
        DrainSeconds = 3,
    };

    public TimeSpan Estimate(BenchContext context) =>
        TimeSpan.FromSeconds(Repeats(context.Quick) * (BenchContext.ServerSeconds + 2 * BenchContext.Seconds(Spec(context.Quick)) + 1));

    public async Task<ScenarioReport> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var spec = Spec(context.Quick);
        var served = new List<LoadRun>();
        var local = new List<LoadRun>();
        for (var repeat = 1; repeat <= Repeats(context.Quick); repeat++)
        {
            served.Add(await context.LoadOnFreshServerAsync(Name, $"server, 1 stream at 50 fps (run {repeat})", spec, ServerSettings.Defaults, cancellationToken));
            local.Add(await context.LoadAsync(Name, $"in-process, 1 stream at 50 fps (run {repeat})", spec with { InProcessModel = context.Paths.Model }, null, "in-process " + context.Paths.Model, cancellationToken));
        }

        // Each repeat's pair, and the means of the p50s.
        var ratios = served.Zip(local).Select(p => p.First.FinalP50 is { } s && p.Second.FinalP50 is { } l && l > 0 ? s / l : (double?)null).ToList();
        double? ratio = Mean(served, r => r.FinalP50) is { } a && Mean(local, r => r.FinalP50) is { } b && b > 0 ? a / b : null;
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"One stream at {Fps:0} fps (one frame in flight), {spec.DurationSeconds:0} s measured after {spec.WarmupSeconds:0} s of warm-up: against a fresh server with its defaults, and with --in-process {Path.GetRelativePath(context.Paths.Root, context.Paths.Model)} (the same frames, pacing and recorder; the engine in the generator's process with the server's engine defaults; PNG decoding in both). {Repeats(context.Quick)} run(s) each, taking turns: min..max.");
        text.AppendLine();
        text.Append(Markdown.Table(
            ["path", "final p50 (ms)", "final p90 (ms)", "final p99 (ms)", "first event p50 (ms)", "server time p50 (ms)", "answered"],
            new[] { ("server", served), ("in-process", local) }.Select(p => (IReadOnlyList<string>)
            [
                p.Item1,
                Markdown.Spread(p.Item2.Select(r => r.FinalP50)),
                Markdown.Spread(p.Item2.Select(r => r.Latency("finalEventMs", "p90"))),
                Markdown.Spread(p.Item2.Select(r => r.FinalP99)),
                Markdown.Spread(p.Item2.Select(r => r.Latency("firstEventMs", "p50"))),
                Markdown.Spread(p.Item2.Select(r => r.Latency("serverTimeMs", "p50"))),
                string.Join(", ", p.Item2.Select(r => r.Count("answered").ToString(c))),
            ])));
        text.AppendLine();
        text.AppendLine(c, $"Final-event p50, server / in-process: **{Markdown.Number(ratio)}** (means; per pair {Markdown.Spread(ratios)}); target <= {Target}: {(ratio is { } x ? x <= Target ? "met" : "NOT met" : "-")}.");

        var summary = new JsonObject
        {
            ["serverFinalP50"] = new JsonArray([.. served.Select(r => (JsonNode?)r.FinalP50)]),
            ["inProcessFinalP50"] = new JsonArray([.. local.Select(r => (JsonNode?)r.FinalP50)]),
            ["ratio"] = ratio,
            ["ratioPerPair"] = new JsonArray([.. ratios.Select(r => (JsonNode?)r)]),
            ["target"] = Target,
        };
        return new ScenarioReport(Name, "Serving overhead: server against in-process", text.ToString(), summary, []);
    }

    private static double? Mean(List<LoadRun> runs, Func<LoadRun, double?> value)
    {
        var values = runs.Select(value).OfType<double>().ToList();
        return values.Count == 0 ? null : values.Average();
    }
}
