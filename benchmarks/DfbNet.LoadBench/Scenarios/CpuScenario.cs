using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using DfbNet.LoadBench.Processes;
using DfbNet.LoadBench.Reporting;

namespace DfbNet.LoadBench.Scenarios;

/// <summary>
/// <c>cpu</c>: server CPU per answer (its /proc utime + stime over the window, over the answers) with the settings from
/// before the scheduler (IntraOpThreads 0, AllowSpinning, one executor, no batching) against the current defaults: one
/// stream at 20 fps after a long warm-up (JIT), and 16 streams at 90% of the reference capacity. Each run twice, on a
/// fresh server, the two settings taking turns.
/// </summary>
internal sealed class CpuScenario : IScenario
{
    public const double LowFps = 20;
    public const double HighShare = 0.9;

    public string Name => "cpu";

    private static int Repeats(bool quick) => quick ? 1 : 2;

    private static LoadSpec Low(bool quick) => new()
    {
        Streams = 1,
        Rate = LowFps,
        WarmupSeconds = quick ? 3 : 10,
        DurationSeconds = quick ? 5 : 20,
        DrainSeconds = 3,
    };

    private static LoadSpec High(bool quick, double rate) => new()
    {
        Streams = BenchContext.ReferenceStreams,
        Rate = rate,
        WarmupSeconds = quick ? 1 : 3,
        DurationSeconds = quick ? 2 : 5,
        DrainSeconds = 3,
    };

    public TimeSpan Estimate(BenchContext context) => TimeSpan.FromSeconds(
        2 * Repeats(context.Quick) * (2 * BenchContext.ServerSeconds + BenchContext.Seconds(Low(context.Quick)) + BenchContext.Seconds(High(context.Quick, 1))));

    public async Task<ScenarioReport> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var capacity = await context.ReferenceCapacityAsync(cancellationToken);
        var high = HighShare * capacity;
        ServerSettings[] settings = [ServerSettings.Before, ServerSettings.Defaults];
        var low = new Dictionary<string, List<LoadRun>>(StringComparer.Ordinal);
        var atCapacity = new Dictionary<string, List<LoadRun>>(StringComparer.Ordinal);
        foreach (var s in settings)
        {
            low[s.Name] = [];
            atCapacity[s.Name] = [];
        }

        for (var repeat = 1; repeat <= Repeats(context.Quick); repeat++)
        {
            foreach (var s in settings)
            {
                low[s.Name].Add(await context.LoadOnFreshServerAsync(Name, $"{s.Name}, 1 stream at 20 fps (run {repeat})", Low(context.Quick), s, cancellationToken));
            }
        }

        for (var repeat = 1; repeat <= Repeats(context.Quick); repeat++)
        {
            foreach (var s in settings)
            {
                atCapacity[s.Name].Add(await context.LoadOnFreshServerAsync(Name, string.Create(CultureInfo.InvariantCulture, $"{s.Name}, 16 streams at 90% of capacity, {high:0}/s (run {repeat})"), High(context.Quick, high), s, cancellationToken));
            }
        }

        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"Server CPU (utime + stime from /proc over the measured window) per answer. \"before\": {ServerSettings.Before.Describe()} (approximately the defaults before the scheduler); \"after\": the current defaults. One stream at {LowFps:0} fps for {Low(context.Quick).DurationSeconds:0} s after {Low(context.Quick).WarmupSeconds:0} s of warm-up (JIT), and 16 streams at {100 * HighShare:0}% of the reference capacity ({high:0} frames/s; capacity {capacity:0} from {context.CapacitySource}) for {High(context.Quick, 1).DurationSeconds:0} s after {High(context.Quick, 1).WarmupSeconds:0} s. Each {Repeats(context.Quick)} time(s) on a fresh server: min..max. /proc counts in 10 ms ticks, so a low-rate figure is good to about {10.0 / (LowFps * Low(context.Quick).DurationSeconds):0.00} ms per answer.");
        text.AppendLine();
        var rows = new List<IReadOnlyList<string>>();
        foreach (var (load, runs) in new[] { ("1 stream, 20 fps", low), ("16 streams, 90% of capacity", atCapacity) })
        {
            foreach (var s in settings)
            {
                var r = runs[s.Name];
                rows.Add(
                [
                    load,
                    s.Name == "defaults" ? "after (defaults)" : "before",
                    Markdown.Spread(r.Select(x => x.ServerCpuMsPerAnswer)),
                    Markdown.Spread(r.Select(x => x.ServerCores)),
                    Markdown.Spread(r.Select(x => (double?)x.Throughput), "0"),
                    Markdown.Spread(r.Select(x => x.FinalP99)),
                    string.Join(", ", r.Select(x => x.Count("refused").ToString(c))),
                ]);
            }
        }

        text.Append(Markdown.Table(["load", "settings", "server CPU ms per answer", "server cores", "answers/s", "final p99 (ms)", "refused"], rows));
        var ratioLow = Ratio(low);
        var ratioHigh = Ratio(atCapacity);
        text.AppendLine().AppendLine(c, $"before / after, CPU per answer: {Markdown.Number(ratioLow)} at 20 fps, {Markdown.Number(ratioHigh)} at 90% of capacity (means of the runs).");

        var plots = new List<string>();
        var note = Charts.TrySave(context.Options.OutputFolder, "cpu-per-answer.png", () =>
        [
            Panel("1 stream at 20 fps", low),
            Panel(string.Create(c, $"16 streams at 90% of capacity ({high:0}/s)"), atCapacity),
        ], plots, columns: 2, width: 560, height: 440);
        if (note is not null)
        {
            text.AppendLine().AppendLine(note);
        }

        var summary = new JsonObject
        {
            ["lowRate"] = Json(low),
            ["atCapacity"] = Json(atCapacity),
            ["beforeOverAfterLow"] = ratioLow,
            ["beforeOverAfterAtCapacity"] = ratioHigh,
        };
        return new ScenarioReport(Name, "Server CPU per answer: before and after", text.ToString(), summary, plots);

        ScottPlot.Plot Panel(string title, Dictionary<string, List<LoadRun>> runs) => Charts.Bars(
            title,
            "server CPU ms per answer",
            ["before", "after (defaults)"],
            [.. settings.Select(s => Mean(runs[s.Name]))],
            [.. settings.Select(s => (IReadOnlyList<double>)[.. runs[s.Name].Select(r => r.ServerCpuMsPerAnswer).OfType<double>()])],
            [Charts.Orange, Charts.Blue]);
    }

    private static double? Mean(List<LoadRun> runs)
    {
        var values = runs.Select(r => r.ServerCpuMsPerAnswer).OfType<double>().ToList();
        return values.Count == 0 ? null : values.Average();
    }

    private static double? Ratio(Dictionary<string, List<LoadRun>> runs) =>
        Mean(runs["before"]) is { } before && Mean(runs["defaults"]) is { } after && after > 0 ? before / after : null;

    private static JsonObject Json(Dictionary<string, List<LoadRun>> runs) => new()
    {
        ["beforeMsPerAnswer"] = new JsonArray([.. runs["before"].Select(r => (JsonNode?)r.ServerCpuMsPerAnswer)]),
        ["afterMsPerAnswer"] = new JsonArray([.. runs["defaults"].Select(r => (JsonNode?)r.ServerCpuMsPerAnswer)]),
    };
}
