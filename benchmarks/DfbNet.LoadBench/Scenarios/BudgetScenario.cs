using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using DfbNet.LoadBench.Processes;
using DfbNet.LoadBench.Reporting;

namespace DfbNet.LoadBench.Scenarios;

/// <summary>
/// <c>budget</c>: 16 streams, every frame with a 10 ms budget, at 20% to 150% of the reference capacity (one server,
/// lowest load first). The budget hit rate two ways: the server's (server time within the budget) and the client's
/// (final event within the budget + 3 ms of the frame's scheduled time), over every frame sent with the budget, so a
/// refused or expired frame is a miss.
/// </summary>
internal sealed class BudgetScenario : IScenario
{
    public const double BudgetMs = 10;

    /// <summary>The load the table reports, as a share of capacity.</summary>
    public const double TableLoad = 0.8;

    public string Name => "budget";

    public static IReadOnlyList<double> Loads(bool quick) => quick ? [0.4, 0.8, 1.2] : [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.5];

    private static LoadSpec Spec(bool quick, double rate) => new()
    {
        Streams = BenchContext.ReferenceStreams,
        Rate = rate,
        WarmupSeconds = quick ? 1 : 2,
        DurationSeconds = quick ? 2 : 5,
        DrainSeconds = 3,
        BudgetMs = BudgetMs.ToString(CultureInfo.InvariantCulture),
    };

    public TimeSpan Estimate(BenchContext context) =>
        TimeSpan.FromSeconds(BenchContext.ServerSeconds + Loads(context.Quick).Count * BenchContext.Seconds(Spec(context.Quick, 1)));

    public async Task<ScenarioReport> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var capacity = await context.ReferenceCapacityAsync(cancellationToken);
        var loads = Loads(context.Quick);
        var runs = new List<(double Load, LoadRun Run)>();
        await using (var server = new ServerSession(context, Name, ServerSettings.Defaults))
        {
            foreach (var load in loads)
            {
                var rate = load * capacity;
                var label = string.Create(CultureInfo.InvariantCulture, $"16 streams, {BudgetMs:0} ms budget, {100 * load:0}% of capacity ({rate:0}/s)");
                runs.Add((load, await server.LoadAsync(label, Spec(context.Quick, rate), cancellationToken)));
            }
        }

        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"16 streams, every frame with a {BudgetMs:0} ms budget (first-exit mode), at shares of the reference capacity ({capacity:0} frames/s from {context.CapacitySource}); {Spec(context.Quick, 1).DurationSeconds:0} s measured after {Spec(context.Quick, 1).WarmupSeconds:0} s of warm-up each, one server with its defaults. Hit rates are over every frame sent with the budget: by server time (server_time <= {BudgetMs:0} ms), at the client within the budget + 3 ms of the frame's scheduled time, and at the client within the budget itself.");
        text.AppendLine();
        text.Append(Markdown.Table(
            ["load", "offered/s", "frames", "hit (server time)", "hit (client, +3 ms)", "hit (client)", "refused", "expired", "final p50 (ms)", "final p99 (ms)", "server p99 (ms)"],
            runs.Select(r =>
            {
                var b = r.Run.Budget(BudgetMs);
                return (IReadOnlyList<string>)
                [
                    Markdown.Percent(r.Load) + (r.Load == TableLoad ? " **(table)**" : ""),
                    Markdown.Rate(r.Run.Offered),
                    (b?.Frames ?? 0).ToString(c),
                    Markdown.Percent(b?.Server),
                    Markdown.Percent(b?.ClientSlack),
                    Markdown.Percent(b?.Client),
                    r.Run.Count("refused").ToString(c),
                    r.Run.Count("expired").ToString(c),
                    Markdown.Ms(r.Run.FinalP50),
                    Markdown.Ms(r.Run.FinalP99),
                    Markdown.Ms(r.Run.Latency("serverTimeMs", "p99")),
                ];
            })));

        var plots = new List<string>();
        var xs = runs.Select(r => 100 * r.Load).ToArray();
        var note = Charts.TrySave(context.Options.OutputFolder, "budget-hit-rate.png", () =>
        [
            Charts.Lines(
                $"{BudgetMs:0} ms budget, 16 streams: hit rate against load", "offered load (% of capacity)", "frames within budget (%)",
                [
                    new Series("server time <= budget", xs, [.. runs.Select(r => Pct(r.Run.Budget(BudgetMs)?.Server))], Charts.Blue),
                    new Series("client final event <= budget + 3 ms", xs, [.. runs.Select(r => Pct(r.Run.Budget(BudgetMs)?.ClientSlack))], Charts.Orange),
                    new Series("client final event <= budget", xs, [.. runs.Select(r => Pct(r.Run.Budget(BudgetMs)?.Client))], Charts.Green, Dashed: true),
                ],
                yRange: (Math.Min(50, Math.Floor(runs.SelectMany(r => new[] { r.Run.Budget(BudgetMs)?.Client, r.Run.Budget(BudgetMs)?.Server }).OfType<double>().DefaultIfEmpty(1).Min() * 100 / 10) * 10 - 5), 102)),
        ], plots, width: 900, height: 480);
        if (note is not null)
        {
            text.AppendLine().AppendLine(note);
        }

        var at = runs.FirstOrDefault(r => r.Load == TableLoad).Run?.Budget(BudgetMs);
        var summary = new JsonObject
        {
            ["budgetMs"] = BudgetMs,
            ["capacity"] = capacity,
            ["at80Percent"] = new JsonObject
            {
                ["frames"] = at?.Frames,
                ["hitRateServer"] = at?.Server,
                ["hitRateClientPlus3Ms"] = at?.ClientSlack,
                ["hitRateClient"] = at?.Client,
            },
            ["byLoad"] = new JsonArray([.. runs.Select(r => (JsonNode)new JsonObject
            {
                ["load"] = r.Load,
                ["hitRateServer"] = r.Run.Budget(BudgetMs)?.Server,
                ["hitRateClientPlus3Ms"] = r.Run.Budget(BudgetMs)?.ClientSlack,
                ["hitRateClient"] = r.Run.Budget(BudgetMs)?.Client,
            })]),
        };
        return new ScenarioReport(Name, "Budget hit rate under load", text.ToString(), summary, plots);

        static double? Pct(double? rate) => rate * 100;
    }
}
