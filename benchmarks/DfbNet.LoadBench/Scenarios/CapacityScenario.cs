using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using DfbNet.LoadBench.Processes;
using DfbNet.LoadBench.Reporting;

namespace DfbNet.LoadBench.Scenarios;

/// <summary>
/// <c>capacity</c>: batching on (MaxBatchSize 8) and off (1) at 1, 4, 16 and 64 streams, each over a geometric ladder of
/// total offered rates from 100 frames/s until two steps in a row are saturated. Capacity: the highest rate with a
/// final-event p99 under <see cref="P99BoundMs"/> and nothing refused, dropped or unsent. The batching-on capacity at 16
/// streams is the reference the later scenarios scale by.
/// </summary>
internal sealed class CapacityScenario : IScenario
{
    public const double P99BoundMs = 50;

    public static readonly int[] StreamCounts = [1, 4, 16, 64];

    public string Name => "capacity";

    /// <summary>100 frames/s times sqrt(2) per step to 4,525 (quick: doubling to 3,200).</summary>
    public static IReadOnlyList<double> Ladder(bool quick) => quick
        ? [100, 200, 400, 800, 1600, 3200]
        : [.. Enumerable.Range(0, 12).Select(k => Math.Round(100 * Math.Pow(Math.Sqrt(2), k)))];

    public static LoadSpec Step(bool quick, int streams, double rate) => new()
    {
        Streams = streams,
        Rate = rate,
        WarmupSeconds = quick ? 1 : 2,
        DurationSeconds = quick ? 2 : 5,

        // A step past saturation leaves frames behind flow control; passing steps answer everything within the bound.
        DrainSeconds = 2,
    };

    public TimeSpan Estimate(BenchContext context) => TimeSpan.FromSeconds(2 * StreamCounts.Length * SweepSeconds(context.Quick, Ladder(context.Quick)));

    public static double SweepSeconds(bool quick, IReadOnlyList<double> ladder) =>
        BenchContext.ServerSeconds + ladder.Sum(rate => BenchContext.Seconds(Step(quick, 1, rate)));

    public async Task<ScenarioReport> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var sweeps = new List<Sweep>();
        foreach (var on in new[] { true, false })
        {
            foreach (var streams in StreamCounts)
            {
                sweeps.Add(await SweepAsync(context, Name, ServerSettings.Batching(on), streams, Ladder(context.Quick), context.Quick ? 1 : 2, cancellationToken));
            }
        }

        var reference = sweeps.First(s => s.Settings.Name == "batching on" && s.Streams == BenchContext.ReferenceStreams);
        if (reference.AtCapacity is { } at)
        {
            context.SetCapacity(at.Offered, at.FinalP99, "the capacity scenario (16 streams, batching on)");
        }

        return Report(context, sweeps);
    }

    /// <summary>A short sweep for the reference capacity alone, for scenarios run without this one.</summary>
    public static Task<Sweep> ProbeAsync(BenchContext context, CancellationToken cancellationToken) =>
        SweepAsync(context, "capacity-probe", ServerSettings.Batching(true), BenchContext.ReferenceStreams, [100, 200, 400, 800, 1600, 3200, 6400], 1, cancellationToken, quick: true);

    public static double ProbeSeconds => SweepSeconds(true, [100, 200, 400, 800, 1600, 3200, 6400]);

    /// <summary>One server, the rates lowest first; stops after <paramref name="stopAfter"/> saturated steps in a row.</summary>
    private static async Task<Sweep> SweepAsync(BenchContext context, string scenario, ServerSettings settings, int streams, IReadOnlyList<double> ladder, int stopAfter, CancellationToken cancellationToken, bool? quick = null)
    {
        var fast = quick ?? context.Quick;
        var steps = new List<LoadRun>();
        await using var server = new ServerSession(context, scenario, settings);
        var saturated = 0;
        for (var i = 0; i < ladder.Count; i++)
        {
            var label = string.Create(CultureInfo.InvariantCulture, $"{settings.Name}, {streams} stream{(streams == 1 ? "" : "s")}, {ladder[i]:0}/s");
            var run = await server.LoadAsync(label, Step(fast, streams, ladder[i]), cancellationToken);
            steps.Add(run);
            saturated = Saturated(run) ? saturated + 1 : 0;
            if (saturated >= stopAfter)
            {
                context.Progress.Skip(ladder.Skip(i + 1).Sum(rate => BenchContext.Seconds(Step(fast, streams, rate))));
                break;
            }
        }

        return new Sweep(settings, streams, steps);
    }

    /// <summary>Clearly past capacity: no result, the median over the bound (queues that grow), answers short of the
    /// offer by a tenth, or more than 1% refused. A p99 spike or a stray refusal at low load (another process taking the
    /// CPU for a moment) fails the capacity test without ending the sweep.</summary>
    private static bool Saturated(LoadRun run) =>
        !run.HasResult
        || run.FinalP50 is not { } p50 || p50 >= P99BoundMs
        || run.Throughput < 0.9 * run.Offered
        || run.Count("refused") > 0.01 * Math.Max(1, run.Count("sent"));

    private ScenarioReport Report(BenchContext context, List<Sweep> sweeps)
    {
        var on = sweeps.Where(s => s.Settings.Name == "batching on").ToDictionary(s => s.Streams);
        var off = sweeps.Where(s => s.Settings.Name == "batching off").ToDictionary(s => s.Streams);
        var rows = StreamCounts.Select(n =>
        {
            var a = on[n].AtCapacity;
            var b = off[n].AtCapacity;
            return (IReadOnlyList<string>)
            [
                n.ToString(CultureInfo.InvariantCulture),
                Markdown.Rate(a?.Offered) + Top(on[n]),
                Markdown.Rate(b?.Offered) + Top(off[n]),
                a is not null && b is not null ? Markdown.Number(a.Offered / b.Offered) : "-",
                Markdown.Number(a?.MeanBatch),
                Markdown.Number(b?.MeanBatch),
                Markdown.Ms(a?.FinalP99),
                Markdown.Ms(b?.FinalP99),
                Markdown.Rate(on[n].PeakThroughput),
                Markdown.Rate(off[n].PeakThroughput),
            ];
        });
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Capacity: the highest offered rate with a final-event p99 under {P99BoundMs:0} ms and nothing refused, dropped or unsent. Steps of {Step(context.Quick, 1, 100).DurationSeconds:0} s measured after {Step(context.Quick, 1, 100).WarmupSeconds:0} s of warm-up, rates {string.Join(", ", Ladder(context.Quick).Select(r => r.ToString("0", CultureInfo.InvariantCulture)))} frames/s, each sweep ending after {(context.Quick ? "one saturated step" : "two saturated steps in a row")}; one server per sweep. Mean batch: frames per stage run at the capacity step (server statistics).");
        text.AppendLine();
        text.Append(Markdown.Table(
            ["streams", "capacity on (frames/s)", "capacity off (frames/s)", "on / off", "mean batch on", "mean batch off", "p99 at capacity on (ms)", "p99 at capacity off (ms)", "peak answers/s on", "peak answers/s off"],
            rows));
        text.AppendLine();
        text.AppendLine("Every step:");
        text.AppendLine();
        text.Append(Markdown.Table(
            ["setting", "streams", "offered/s", "answers/s", "final p50 (ms)", "final p99 (ms)", "refused", "unsent", "mean batch", "server cores", "counts"],
            sweeps.SelectMany(s => s.Steps.Select(r => (IReadOnlyList<string>)
            [
                s.Settings.Name,
                s.Streams.ToString(CultureInfo.InvariantCulture),
                Markdown.Rate(r.Offered),
                Markdown.Rate(r.Throughput),
                Markdown.Ms(r.FinalP50),
                Markdown.Ms(r.FinalP99),
                r.Count("refused").ToString(CultureInfo.InvariantCulture),
                r.Count("unsent").ToString(CultureInfo.InvariantCulture),
                Markdown.Number(r.MeanBatch),
                Markdown.Number(r.ServerCores),
                r.HasResult ? r.CountsAddUp ? "ok" : "DO NOT ADD UP" : "FAILED",
            ]))));

        var plots = new List<string>();
        var notes = new List<string?>
        {
            Charts.TrySave(context.Options.OutputFolder, "capacity-latency.png", () => StreamCounts.Select(n => Charts.Lines(
                $"{n} stream{(n == 1 ? "" : "s")}: final-event latency", "offered (frames/s)", "ms",
                [
                    Series("on p99", on[n], r => r.FinalP99, Charts.Blue, false),
                    Series("off p99", off[n], r => r.FinalP99, Charts.Orange, false),
                    Series("on p50", on[n], r => r.FinalP50, Charts.Blue, true),
                    Series("off p50", off[n], r => r.FinalP50, Charts.Orange, true),
                ],
                logX: true, logY: true, referenceY: P99BoundMs, referenceLabel: "50 ms")).ToList(), plots, columns: 2, width: 720),
            Charts.TrySave(context.Options.OutputFolder, "capacity-goodput.png", () => StreamCounts.Select(n => Charts.Lines(
                $"{n} stream{(n == 1 ? "" : "s")}: goodput", "offered (frames/s)", "answers/s",
                [
                    Series("batching on", on[n], r => r.Throughput, Charts.Blue, false),
                    Series("batching off", off[n], r => r.Throughput, Charts.Orange, true),
                ],
                logX: true, logY: true, diagonal: true)).ToList(), plots, columns: 2, width: 760),
        };
        foreach (var note in notes.OfType<string>())
        {
            text.AppendLine().AppendLine(note);
        }

        var summary = new JsonObject
        {
            ["p99BoundMs"] = P99BoundMs,
            ["byStreams"] = new JsonArray([.. StreamCounts.Select(n => (JsonNode)new JsonObject
            {
                ["streams"] = n,
                ["capacityOn"] = on[n].Capacity,
                ["capacityOff"] = off[n].Capacity,
                ["ratio"] = on[n].Capacity is { } a && off[n].Capacity is { } b ? a / b : null,
                ["meanBatchOn"] = on[n].AtCapacity?.MeanBatch,
                ["meanBatchOff"] = off[n].AtCapacity?.MeanBatch,
                ["p99AtCapacityOn"] = on[n].AtCapacity?.FinalP99,
                ["p99AtCapacityOff"] = off[n].AtCapacity?.FinalP99,
            })]),
        };
        return new ScenarioReport(Name, "Capacity: batching on and off", text.ToString(), summary, plots);

        static string Top(Sweep s) => s.AtCapacity is { } a && s.Steps.Count > 0 && a == s.Steps[^1] ? " (the highest step)" : "";
    }

    private static Series Series(string name, Sweep sweep, Func<LoadRun, double?> y, ScottPlot.Color color, bool dashed) =>
        new(name, [.. sweep.Steps.Select(r => r.Offered)], [.. sweep.Steps.Select(y)], color, dashed);
}

/// <summary>The steps of one sweep, lowest rate first.</summary>
internal sealed record Sweep(ServerSettings Settings, int Streams, IReadOnlyList<LoadRun> Steps)
{
    /// <summary>The step at capacity: the highest rate that carried (not necessarily the last before a failure).</summary>
    public LoadRun? AtCapacity => Steps.Where(s => s.Carries(CapacityScenario.P99BoundMs)).MaxBy(s => s.Offered);

    public double? Capacity => AtCapacity?.Offered;

    public double? PeakThroughput => Steps.Count == 0 ? null : Steps.Max(s => s.Throughput);
}
