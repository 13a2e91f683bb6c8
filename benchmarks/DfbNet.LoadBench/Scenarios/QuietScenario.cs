using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using DfbNet.LoadBench.Processes;
using DfbNet.LoadBench.Reporting;

namespace DfbNet.LoadBench.Scenarios;

/// <summary>
/// <c>quiet</c>: a flood of 32 streams without budgets at 1.2 x the reference capacity (one <c>dfbnet load</c> process)
/// and, at the same time on the same server, one quiet stream at 20 fps with a 10 ms budget (a second process). What
/// does the quiet stream get: its hit rates and latency percentiles? Its window lies inside the flood's.
/// </summary>
internal sealed class QuietScenario : IScenario
{
    public const double FloodFactor = 1.2;
    public const int FloodStreams = 32;
    public const double QuietFps = 20;
    public const double BudgetMs = 10;

    public string Name => "quiet";

    private static LoadSpec Flood(bool quick, double rate) => new()
    {
        Streams = FloodStreams,
        Rate = rate,
        WarmupSeconds = quick ? 1 : 3,
        DurationSeconds = quick ? 6 : 20,
        DrainSeconds = 5,
    };

    // Starts with the flood, measures from a second after the flood's warm-up to well before its end.
    private static LoadSpec Quiet(bool quick) => new()
    {
        Streams = 1,
        Rate = QuietFps,
        WarmupSeconds = quick ? 2 : 4,
        DurationSeconds = quick ? 3 : 15,
        DrainSeconds = 5,
        BudgetMs = BudgetMs.ToString(CultureInfo.InvariantCulture),
    };

    public TimeSpan Estimate(BenchContext context) =>
        TimeSpan.FromSeconds(BenchContext.ServerSeconds + BenchContext.Seconds(Flood(context.Quick, 1)) + 2);

    public async Task<ScenarioReport> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var capacity = await context.ReferenceCapacityAsync(cancellationToken);
        var rate = FloodFactor * capacity;
        LoadRun flood;
        LoadRun quiet;
        await using (var server = await context.StartServerAsync(Name, ServerSettings.Defaults, cancellationToken))
        {
            var floodRun = context.LoadAsync(Name, string.Create(CultureInfo.InvariantCulture, $"flood: 32 streams at 1.2 x capacity, {rate:0}/s"), Flood(context.Quick, rate), server, ServerSettings.Defaults.Describe(), cancellationToken);
            var quietRun = context.LoadAsync(Name, "quiet: 1 stream at 20 fps, 10 ms budget", Quiet(context.Quick), server, ServerSettings.Defaults.Describe(), cancellationToken);
            await Task.WhenAll(floodRun, quietRun);
            flood = await floodRun;
            quiet = await quietRun;
        }

        var c = CultureInfo.InvariantCulture;
        var b = quiet.Budget(BudgetMs);
        var text = new StringBuilder();
        text.AppendLine(c, $"Two dfbnet load processes against one server with its defaults, started together: a flood of {FloodStreams} streams without budgets at {FloodFactor} x the reference capacity ({rate:0} frames/s; capacity {capacity:0} from {context.CapacitySource}), {Flood(context.Quick, 1).DurationSeconds:0} s measured after {Flood(context.Quick, 1).WarmupSeconds:0} s, and a quiet stream at {QuietFps:0} fps with a {BudgetMs:0} ms budget on every frame, {Quiet(context.Quick).DurationSeconds:0} s measured after {Quiet(context.Quick).WarmupSeconds:0} s (inside the flood's window). Hit rates are over the quiet frames sent: a refused frame is a miss.");
        text.AppendLine();
        text.Append(Markdown.Table(["quiet stream", "value"], new List<IReadOnlyList<string>>
        {
            new[] { "frames sent / answered", $"{quiet.Count("sent")} / {quiet.Count("answered")}" },
            new[] { "hit rate by server time", Markdown.Percent(b?.Server) },
            new[] { "hit rate at the client, budget + 3 ms", Markdown.Percent(b?.ClientSlack) },
            new[] { "hit rate at the client, budget", Markdown.Percent(b?.Client) },
            new[] { "refused (by code) / expired", $"{quiet.Count("refused")} ({Markdown.Counts(quiet.RefusalsByCode)}) / {quiet.Count("expired")}" },
            new[] { "final event p50 / p90 / p99 / max (ms)", $"{Markdown.Ms(quiet.FinalP50)} / {Markdown.Ms(quiet.Latency("finalEventMs", "p90"))} / {Markdown.Ms(quiet.FinalP99)} / {Markdown.Ms(quiet.Latency("finalEventMs", "max"))}" },
            new[] { "server time p50 / p99 (ms)", $"{Markdown.Ms(quiet.Latency("serverTimeMs", "p50"))} / {Markdown.Ms(quiet.Latency("serverTimeMs", "p99"))}" },
            new[] { "queue time p50 / p99 (ms)", $"{Markdown.Ms(quiet.Latency("queueTimeMs", "p50"))} / {Markdown.Ms(quiet.Latency("queueTimeMs", "p99"))}" },
            new[] { "final exits", Markdown.Counts(quiet.FinalExits) },
            new[] { "counts add up", quiet.CountsAddUp ? "yes" : "NO" },
        }));
        text.AppendLine();
        text.Append(Markdown.Table(["flood", "value"], new List<IReadOnlyList<string>>
        {
            new[] { "offered / answers per s", $"{Markdown.Rate(flood.Offered)} / {Markdown.Rate(flood.Throughput)}" },
            new[] { "refused (by code)", $"{flood.Count("refused")} ({Markdown.Counts(flood.RefusalsByCode)})" },
            new[] { "final event p50 / p99 (ms)", $"{Markdown.Ms(flood.FinalP50)} / {Markdown.Ms(flood.FinalP99)}" },
            new[] { "server / generator cores", $"{Markdown.Number(flood.ServerCores)} / {Markdown.Number(flood.ClientCores)}" },
            new[] { "counts add up", flood.CountsAddUp ? "yes" : "NO" },
        }));
        foreach (var failed in new[] { flood, quiet }.Where(r => !r.HasResult))
        {
            text.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"{failed.Label} FAILED: {failed.Error}");
        }

        var summary = new JsonObject
        {
            ["floodOffered"] = rate,
            ["quietFrames"] = b?.Frames,
            ["quietHitRateServer"] = b?.Server,
            ["quietHitRateClientPlus3Ms"] = b?.ClientSlack,
            ["quietHitRateClient"] = b?.Client,
            ["quietRefused"] = quiet.Count("refused"),
            ["quietFinalP50"] = quiet.FinalP50,
            ["quietFinalP99"] = quiet.FinalP99,
            ["floodRefused"] = flood.Count("refused"),
        };
        return new ScenarioReport(Name, "A quiet stream beside a flood", text.ToString(), summary, []);
    }
}
