using System.CommandLine;
using System.Globalization;
using DfbNet.Cli.Evaluation;
using DfbNet.Core;
using DfbNet.Runtime.ExecutionProviders;
using DfbNet.Training.Data;
using DfbNet.Training.Evaluation;

namespace DfbNet.Cli.Commands;

/// <summary><c>dfbnet eval</c>: the paper's Table 2 for a model folder on the CIFAR-10 test set, through ONNX Runtime.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Model folder (manifest.json and its stage files).", Required = true };
        var data = new Option<DirectoryInfo>("--data") { Description = "Folder holding cifar-10/test_batch.bin.", Required = true };
        var thresholds = new Option<string?>("--thresholds") { Description = "Exit thresholds p_1..p_M, comma separated; several sets separated by ';'." };
        var preset = new Option<string?>("--preset") { Description = "A preset of the manifest; without this and --thresholds every preset is evaluated." };
        var timing = new Option<int>("--timing-images") { Description = "Images timed at batch 1 per threshold set (0 = all).", DefaultValueFactory = _ => 1000 };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads.", DefaultValueFactory = _ => 1 };
        var limit = new Option<int?>("--limit") { Description = "Evaluate only the first N test images." };
        var exitRatios = new Option<string?>("--exit-ratios")
        {
            Description = "Percent of images leaving at exits 1..M and by fusion, comma separated (the paper's CIFAR-10 default: 80.03,9.48,9.19,1.30): also print the mean time per image those ratios give with this model's measured exit paths, for a model whose own exits are untrained.",
        };
        var providers = new Option<string>("--providers") { Description = "Execution providers to try, in order (tensorrt,cuda,cpu); the active one is reported.", DefaultValueFactory = _ => "cpu" };
        var cudaOptions = new Option<string[]>("--cuda-option") { Description = "An ONNX Runtime CUDA provider option, key=value (for example prefer_nhwc=1); repeatable.", AllowMultipleArgumentsPerToken = false };
        var batchSizes = new Option<string?>("--batch-sizes") { Description = "Also time each stage alone at these batch sizes (for example 1,2,4,8,16): milliseconds per image, what batching frames across streams buys on this machine." };
        var cudaGraphs = new Option<bool>("--cuda-graphs") { Description = "Capture each stage (and the main branch alone) as a CUDA graph and time its replays (CUDA and TensorRT providers); on by default, --cuda-graphs false times plain runs.", DefaultValueFactory = _ => true };
        var command = new Command("eval", "Error, batch-1 latency (mean, p50, p99), gain over the main branch alone, exit ratios and per-exit errors (the paper's Table 2).")
        {
            model, data, thresholds, preset, timing, threads, limit, providers, exitRatios, cudaGraphs, cudaOptions, batchSizes,
        };
        command.Aliases.Add("bench");
        command.SetAction(async (parse, cancellationToken) =>
        {
            var test = CifarReader.LoadCifar10Test(parse.GetValue(data)!.FullName);
            if (parse.GetValue(limit) is { } n)
            {
                test = test.Take(n);
            }

            var cudaSettings = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var option in parse.GetValue(cudaOptions) ?? [])
            {
                var equals = option.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0 || equals == option.Length - 1)
                {
                    Console.Error.WriteLine($"dfbnet eval: --cuda-option '{option}' is not key=value.");
                    return 2;
                }

                cudaSettings[option[..equals].Trim()] = option[(equals + 1)..].Trim();
            }

            using var runner = new OrtModelRunner(parse.GetValue(model)!.FullName, parse.GetValue(threads), ExecutionProviderChain.Parse(parse.GetValue(providers)!, new ExecutionProviderSettings { CudaGraphs = parse.GetValue(cudaGraphs), CudaProviderOptions = cudaSettings }));
            var manifest = runner.Engine.Manifest;
            var sets = new List<(string Name, float[] Values)>();
            if (parse.GetValue(thresholds) is { } text)
            {
                foreach (var set in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    if (!SettingText.TryParseThresholds(set, out var values, out var problem))
                    {
                        Console.Error.WriteLine($"dfbnet eval: --thresholds '{set}': {problem}.");
                        return 2;
                    }

                    sets.Add((set, values));
                }
            }
            else if (parse.GetValue(preset) is { } name)
            {
                if (!manifest.Thresholds.Presets.TryGetValue(name, out var p))
                {
                    Console.Error.WriteLine($"dfbnet eval: --preset '{name}': the model has no such preset (it has {string.Join(", ", manifest.Thresholds.Presets.Keys)}).");
                    return 2;
                }

                sets.Add((name, p));
            }
            else
            {
                sets.AddRange(manifest.Thresholds.Presets.Select(p => (p.Key, p.Value)));
            }

            double[]? ratios = null;
            if (parse.GetValue(exitRatios) is { } ratioText && !TryParseRatios(ratioText, runner.Engine.ExitCount, out ratios, out var ratioProblem))
            {
                Console.Error.WriteLine($"dfbnet eval: --exit-ratios '{ratioText}': {ratioProblem}.");
                return 2;
            }

            var timingCount = parse.GetValue(timing) is var t && t > 0 ? Math.Min(t, test.Count) : test.Count;
            if (ratios is not null && timingCount < runner.Engine.ExitCount)
            {
                Console.Error.WriteLine($"dfbnet eval: --exit-ratios times each of the {runner.Engine.ExitCount} exit paths: it needs at least {runner.Engine.ExitCount} timing images, not {timingCount}.");
                return 2;
            }

            int[]? sizes = null;
            if (parse.GetValue(batchSizes) is { } sizeText)
            {
                var parts = sizeText.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                sizes = [.. parts.Select(p => int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out var b) && b is >= 1 and <= 1024 ? b : 0)];
                if (sizes.Length == 0 || sizes.Contains(0))
                {
                    Console.Error.WriteLine($"dfbnet eval: --batch-sizes '{sizeText}' is not a list of batch sizes from 1 to 1024 (for example 1,2,4,8,16).");
                    return 2;
                }
            }

            var report = await TableReport.RunAsync(runner, test, sets, timingCount, ratios, cancellationToken);
            Console.Write(report);
            if (sizes is not null)
            {
                Console.Write(TableReport.StagesByBatch(runner, test, sizes));
            }

            return 0;
        });
        return command;
    }

    /// <summary>M + 1 non-negative percentages (exits 1..M, fusion) that add up to 100 (within 0.1).</summary>
    internal static bool TryParseRatios(string text, int exits, out double[] ratios, out string problem)
    {
        ratios = [];
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != exits + 1)
        {
            problem = $"{parts.Length} values given; the model has {exits} exits, so {exits + 1} are needed (exits 1..{exits} and fusion)";
            return false;
        }

        var values = new double[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !(values[i] >= 0))
            {
                problem = $"'{parts[i]}' is not a non-negative percentage";
                return false;
            }
        }

        if (Math.Abs(values.Sum() - 100) > 0.1)
        {
            problem = string.Create(CultureInfo.InvariantCulture, $"the percentages add up to {values.Sum():0.##}, not 100");
            return false;
        }

        ratios = [.. values.Select(v => v / 100)];
        problem = "";
        return true;
    }
}

/// <summary>Runs the test set once through every stage, then each threshold set through Algorithm 1 and the batch-1 timer.</summary>
internal static class TableReport
{
    /// <param name="ratios">Fractions of images leaving at exits 1..M and by fusion to weight the measured exit paths by; null for none.</param>
    public static async Task<string> RunAsync(OrtModelRunner runner, CifarDataset test, IReadOnlyList<(string Name, float[] Values)> sets, int timingCount, double[]? ratios, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        var evaluation = new ExitEvaluation(runner.ExitLogits(test), test.Labels, runner.Classes);
        var m = evaluation.ExitCount;
        var timingInputs = runner.Preprocess(test, 0, timingCount);
        var writer = new StringWriter(inv);
        writer.WriteLine($"Model {runner.Engine.Name}: {m} exits, {test.Count} test images ({test.Source}); latency: batch 1, ONNX Runtime {runner.EngineDescription} (main branch alone: {runner.MainBranchProvider}), over {timingCount} images");
        writer.WriteLine($"Exit errors alone: {string.Join(" / ", Enumerable.Range(0, m).Select(s => Pct(1 - evaluation.ExitAccuracy(s))))}");
        var main = runner.TimeMainBranch(timingInputs, timingCount);
        writer.WriteLine($"{"thresholds",-28} {"error %",8} {"mean ms",8} {"p50 ms",7} {"p99 ms",7} {"gain x",7}  {"exit ratio % (1.." + m + ", fused)",-30} error within each exit % (1..{m}, fused)");
        writer.WriteLine($"{"main branch alone",-28} {Pct(1 - evaluation.ExitAccuracy(m - 1)),8} {main.Mean,8:F3} {main.P50,7:F3} {main.P99,7:F3} {1.0,7:F2}  {"N/A",-30} N/A");
        foreach (var (name, values) in sets)
        {
            var result = evaluation.Evaluate(values);
            var time = await runner.TimeEarlyExitAsync(timingInputs, timingCount, new ExitPolicy(values), cancellationToken);
            var label = name == string.Join(",", values.Select(v => v.ToString("0.###", inv))) ? name : $"{name} ({string.Join(",", values.Select(v => v.ToString("0.###", inv)))})";
            writer.WriteLine($"{label,-28} {Pct(result.Error),8} {time.Mean,8:F3} {time.P50,7:F3} {time.P99,7:F3} {main.Mean / time.Mean,7:F2}  {string.Join(", ", result.ExitRatio.Select(r => (100 * r).ToString("F2", inv))),-30} {string.Join(", ", result.ErrorWithin.Select(e => double.IsNaN(e) ? "-" : (100 * e).ToString("F2", inv)))}");
        }

        if (ratios is not null)
        {
            // Fusion runs every stage, so it costs what leaving at the last exit does.
            var paths = await runner.TimeExitPathsAsync(timingInputs, timingCount, cancellationToken);
            var weighted = paths.Select((p, s) => p * ratios[s]).Sum() + (paths[^1] * ratios[m]);
            writer.WriteLine();
            writer.WriteLine($"Given exit ratios % (1..{m}, fused) {string.Join(", ", ratios.Select(r => (100 * r).ToString("0.##", inv)))}: measured ms per image leaving at exit 1..{m} {string.Join(", ", paths.Select(p => p.ToString("F3", inv)))}");
            writer.WriteLine($"  weighted mean {weighted.ToString("F3", inv)} ms per image, gain {(main.Mean / weighted).ToString("F2", inv)}x over the main branch alone ({main.Mean.ToString("F3", inv)} ms): stage times of this model, exit ratios given, not its own");
        }

        return writer.ToString();
    }

    /// <summary>Each stage alone at each batch size: milliseconds per image, and the gain over batch 1.</summary>
    public static string StagesByBatch(OrtModelRunner runner, CifarDataset test, IReadOnlyList<int> sizes)
    {
        var inv = CultureInfo.InvariantCulture;
        var times = runner.TimeStagesByBatch(test, sizes, runs: 50);
        var writer = new StringWriter(inv);
        writer.WriteLine();
        writer.WriteLine($"Stage time per image by batch size (ms; each stage alone, 50 runs, {runner.EngineDescription}):");
        writer.WriteLine($"{"stage",-8} {string.Join(" ", sizes.Select(b => $"{"b=" + b,9}"))}  gain at b={sizes[^1]}");
        for (var s = 0; s < times[0].Length; s++)
        {
            writer.WriteLine($"{s + 1,-8} {string.Join(" ", times.Select(t => t[s].ToString("F4", inv).PadLeft(9)))}  {(times[0][s] / times[^1][s]).ToString("F2", inv)}x");
        }

        var totals = times.Select(t => t.Sum()).ToArray();
        writer.WriteLine($"{"all",-8} {string.Join(" ", totals.Select(t => t.ToString("F4", inv).PadLeft(9)))}  {(totals[0] / totals[^1]).ToString("F2", inv)}x");
        return writer.ToString();
    }

    private static string Pct(double fraction) => (100 * fraction).ToString("F2", CultureInfo.InvariantCulture);
}
