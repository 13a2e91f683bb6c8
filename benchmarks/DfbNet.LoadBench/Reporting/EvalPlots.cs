using System.Text.Json.Nodes;
using ScottPlot;

namespace DfbNet.LoadBench.Reporting;

/// <summary>
/// The accuracy plots of <c>dfbnet eval --json</c> (docs/BENCHMARKS.md): accuracy against mean latency over the presets,
/// the anytime curve (refine under a budget), and the error by frame encoding.
/// </summary>
internal static class EvalPlots
{
    /// <summary>Writes the plots the JSON has figures for into <paramref name="folder"/>; returns the files written.</summary>
    /// <exception cref="BenchException">The file is missing or not the JSON of dfbnet eval.</exception>
    public static IReadOnlyList<string> Write(string jsonPath, string folder)
    {
        if (!File.Exists(jsonPath))
        {
            throw new BenchException($"{jsonPath} does not exist (write it with dfbnet eval --json FILE).");
        }

        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(jsonPath)) as JsonObject ?? throw new BenchException($"{jsonPath} is not a JSON object.");
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new BenchException($"{jsonPath} is not JSON: {ex.Message}");
        }

        if (root["rows"] is not JsonArray rows)
        {
            throw new BenchException($"{jsonPath} has no 'rows': not the JSON of dfbnet eval.");
        }

        Directory.CreateDirectory(folder);
        var written = new List<string>();
        var model = (string?)root["model"] ?? "model";
        var reference = rows.FirstOrDefault(r => (string?)r!["name"] == "baseline") ?? rows.First(r => (string?)r!["name"] == "main branch");
        var referenceName = (string)reference!["name"]!;
        var referenceAccuracy = 100 * (1 - (double)reference["error"]!);
        var anytime = root["anytime"]?["points"] as JsonArray;

        // Accuracy against mean latency: the baseline, the main branch and every preset (first-exit). The anytime curve has
        // its own plot: a budget too short for exit 1 answers nothing, which would flatten this one.
        var points = rows.Select(r => ((string)r!["name"]!, (double)r["meanMs"]!, 100 * (1 - (double)r["error"]!))).ToList();
        Fail(Charts.TrySave(folder, "accuracy-latency.png", () => [Charts.LabelledPoints($"{model}: accuracy against mean latency (first-exit, batch 1)", "mean ms per frame", "accuracy %", points)], written, width: 760, height: 520));

        if (anytime is { Count: > 0 })
        {
            var budgets = anytime.Select(p => (double)p!["budgetMs"]!).ToList();
            var accuracy = anytime.Select(p => (double?)(100 * (double)p!["accuracy"]!)).ToList();
            var answered = anytime.Select(p => (double?)(100 * (1 - (double)p!["unanswered"]!))).ToList();
            Fail(Charts.TrySave(folder, "anytime.png", () =>
            [
                Charts.Lines(
                    $"{model}: refine mode ({root["anytime"]!["preset"]}) under a latency budget",
                    "budget ms (preprocessing included)",
                    "% of frames",
                    [new Series("accuracy of the final answer", budgets, accuracy, Charts.Blue), new Series("answered (not cut before exit 1)", budgets, answered, Charts.Green, Dashed: true)],
                    logX: true,
                    referenceY: referenceAccuracy,
                    referenceLabel: $"{referenceName} accuracy (no budget)"),
            ], written, width: 760, height: 520));
        }

        if (root["frames"] is JsonArray { Count: > 0 } frames)
        {
            var names = frames.Select(f => (string)f!["frames"]!).ToList();
            var defaultPreset = rows.Select(r => (string)r!["name"]!).FirstOrDefault(n => n == "balanced");
            Fail(Charts.TrySave(folder, "frames.png", () =>
            {
                var panels = new List<Plot>
                {
                    Charts.Bars($"{referenceName}: error by frame encoding", "error %", names, [.. frames.Select(f => (double?)(100 * (double)f!["referenceError"]!))], [.. names.Select(_ => (IReadOnlyList<double>)[])], [Charts.Blue]),
                };
                if (defaultPreset is not null)
                {
                    panels.Add(Charts.Bars($"{defaultPreset} preset: error by frame encoding", "error %", names, [.. frames.Select(f => (double?)(100 * (double?)f!["errors"]?[defaultPreset] ?? double.NaN))], [.. names.Select(_ => (IReadOnlyList<double>)[])], [Charts.Orange]));
                }

                return panels;
            }, written, columns: 2, width: 700, height: 460));
        }

        return written;

        static void Fail(string? problem)
        {
            if (problem is not null)
            {
                Console.Error.WriteLine($"dfbnet-loadbench: {problem}");
            }
        }
    }
}
