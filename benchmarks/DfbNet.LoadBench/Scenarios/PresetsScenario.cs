using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using DfbNet.LoadBench.Processes;
using DfbNet.LoadBench.Reporting;

namespace DfbNet.LoadBench.Scenarios;

/// <summary>
/// <c>presets</c>: one stream at 50 fps for each threshold preset of the bundled model (from its manifest) and for mode
/// full: accuracy against mean server time. The frames go through the images in order, so a run scores
/// min(answered, images) distinct images; with the 200-image slice the accuracy is a rough figure, with a full CIFAR-10
/// test batch (<c>--data</c>) a real one.
/// </summary>
internal sealed class PresetsScenario : IScenario
{
    public const double Fps = 50;

    public string Name => "presets";

    /// <summary>Long enough to score every image once, within 5..120 s (quick: 2 s).</summary>
    private static LoadSpec Spec(bool quick, int images) => new()
    {
        Streams = 1,
        Rate = Fps,
        WarmupSeconds = quick ? 1 : 2,
        DurationSeconds = quick ? 2 : Math.Clamp(Math.Ceiling(images / Fps), 5, 120),
        DrainSeconds = 3,
    };

    public TimeSpan Estimate(BenchContext context) =>
        TimeSpan.FromSeconds(BenchContext.ServerSeconds + (Presets(context).Count + 1) * BenchContext.Seconds(Spec(context.Quick, context.Images)));

    public async Task<ScenarioReport> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var presets = Presets(context);
        var spec = Spec(context.Quick, context.Images);
        var runs = new List<(string Name, string Thresholds, LoadRun Run)>();
        await using (var server = new ServerSession(context, Name, ServerSettings.Defaults))
        {
            foreach (var (preset, thresholds) in presets)
            {
                runs.Add((preset, thresholds, await server.LoadAsync($"preset {preset}, first-exit", spec with { Preset = preset }, cancellationToken)));
            }

            runs.Add(("mode full", "every exit, fused", await server.LoadAsync("mode full", spec with { Mode = "full" }, cancellationToken)));
        }

        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"One stream at {Fps:0} fps (one frame in flight), server defaults, {spec.DurationSeconds:0} s measured after {spec.WarmupSeconds:0} s of warm-up per run; frames from {Path.GetFileName(context.Data)} ({context.Images} images). Each preset runs in first-exit mode; \"mode full\" runs every exit and fuses them (the default preset's thresholds do not matter there). Distinct images: how many different test images the accuracy is over.");
        text.AppendLine();
        text.Append(Markdown.Table(
            ["run", "thresholds", "frames scored", "distinct images", "accuracy", "mean server time (ms)", "server p50 (ms)", "final p50 (ms)", "final exits"],
            runs.Select(r => (IReadOnlyList<string>)
            [
                r.Name,
                r.Thresholds,
                r.Run.Count("answered").ToString(c),
                Math.Min(r.Run.Count("answered"), context.Images).ToString(c),
                Markdown.Percent(r.Run.Accuracy),
                Markdown.Ms(r.Run.Latency("serverTimeMs", "mean")),
                Markdown.Ms(r.Run.Latency("serverTimeMs", "p50")),
                Markdown.Ms(r.Run.FinalP50),
                Exits(r.Run),
            ])));
        if (context.Images < 1000)
        {
            text.AppendLine().AppendLine(c, $"Only {context.Images} images: one image is {100.0 / context.Images:0.0} points of accuracy. Pass --data with a full CIFAR-10 test_batch.bin for figures to compare with docs/BENCHMARKS.md.");
        }

        var plots = new List<string>();
        var points = runs.Where(r => r.Run.Accuracy is not null && r.Run.Latency("serverTimeMs", "mean") is not null)
            .Select(r => (r.Name, r.Run.Latency("serverTimeMs", "mean")!.Value, 100 * r.Run.Accuracy!.Value))
            .ToList();
        var note = Charts.TrySave(context.Options.OutputFolder, "presets-accuracy.png", () =>
            [Charts.LabelledPoints($"accuracy against server time ({context.Images} images)", "mean server time (ms)", "accuracy (%)", points)], plots, width: 800, height: 500);
        if (note is not null)
        {
            text.AppendLine().AppendLine(note);
        }

        var summary = new JsonObject
        {
            ["images"] = context.Images,
            ["runs"] = new JsonArray([.. runs.Select(r => (JsonNode)new JsonObject
            {
                ["name"] = r.Name,
                ["thresholds"] = r.Thresholds,
                ["answered"] = r.Run.Count("answered"),
                ["accuracy"] = r.Run.Accuracy,
                ["meanServerMs"] = r.Run.Latency("serverTimeMs", "mean"),
            })]),
        };
        return new ScenarioReport(Name, "Presets: accuracy against server time", text.ToString(), summary, plots);
    }

    /// <summary>The bundled model's presets in manifest order, with their thresholds as text.</summary>
    private static List<(string Name, string Thresholds)> Presets(BenchContext context)
    {
        var path = Path.Combine(context.Paths.Model, "manifest.json");
        if (JsonNode.Parse(File.ReadAllText(path))?["thresholds"]?["presets"] is not JsonObject presets || presets.Count == 0)
        {
            throw new BenchException($"{path} has no thresholds.presets.");
        }

        return [.. presets.Select(p => (p.Key, p.Value is JsonArray values ? string.Join(", ", values.Select(v => v?.ToString())) : ""))];
    }

    private static string Exits(LoadRun run)
    {
        var answered = run.Count("answered");
        return answered == 0 ? "-" : string.Join(", ", run.FinalExits.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key} {100.0 * p.Value / answered:0}%")));
    }
}
