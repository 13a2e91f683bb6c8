using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using DfbNet.Cli.Evaluation;
using DfbNet.Core;
using DfbNet.Core.Manifest;
using DfbNet.Runtime.ExecutionProviders;
using DfbNet.Training.Data;
using DfbNet.Training.Evaluation;

namespace DfbNet.Cli.Commands;

/// <summary><c>dfbnet eval</c>: the paper's Table 2 for a model folder on the test images of its data (CIFAR-10 or an image folder), through ONNX Runtime.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Model folder (manifest.json and its stage files).", Required = true };
        var data = new Option<DirectoryInfo>("--data") { Description = "The test images: CIFAR-10's test_batch.bin (in the folder or its cifar-10/), or an image folder's test/ or test split (as the manifest records the training run's split).", Required = true };
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
        var frames = new Option<string?>("--frames") { Description = "Also measure accuracy with the test images sent as these frames, comma separated: raw, png, jpeg:Q (quality 1..100), each optionally upscaled first with @Nx (for example png,jpeg:95,jpeg:85,jpeg:75,jpeg:85@4x)." };
        var anytime = new Option<string?>("--anytime") { Description = "Also run refine mode at the default preset under each of these latency budgets in milliseconds, comma separated (the anytime curve; --timing-images images each)." };
        var json = new Option<FileInfo?>("--json") { Description = "Also write every figure of the report to this JSON file (for plots)." };
        var command = new Command("eval", "Error, batch-1 latency (mean, p50, p99), gain over the main branch alone, exit ratios and per-exit errors (the paper's Table 2).")
        {
            model, data, thresholds, preset, timing, threads, limit, providers, exitRatios, cudaGraphs, cudaOptions, batchSizes, frames, anytime, json,
        };
        command.Aliases.Add("bench");
        command.SetAction(async (parse, cancellationToken) =>
        {
            // The manifest gives the input size and the training run's split, so an image folder's test images are the run's own.
            var trained = ManifestLoader.LoadFolder(parse.GetValue(model)!.FullName);
            var source = TrainingDataSource.Open(parse.GetValue(data)!.FullName, Console.WriteLine);
            source.CheckClasses(trained.Classes);
            var test = source.LoadTest(trained.Input.Width, trained.Training?.Split ?? new DataSplit(), parse.GetValue(limit), cancellationToken);

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

                    if (values.Length != manifest.Stages.Count)
                    {
                        Console.Error.WriteLine($"dfbnet eval: --thresholds '{set}' has {values.Length} values; model '{runner.Engine.Name}' has {manifest.Stages.Count} exits (one threshold each).");
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

            var encodings = new List<FrameEncoding>();
            foreach (var frame in (parse.GetValue(frames) ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!FrameEncoding.TryParse(frame, out var encoding, out var problem))
                {
                    Console.Error.WriteLine($"dfbnet eval: --frames {problem}.");
                    return 2;
                }

                encodings.Add(encoding);
            }

            var budgets = new List<double>();
            foreach (var budgetText in (parse.GetValue(anytime) ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!double.TryParse(budgetText, NumberStyles.Float, CultureInfo.InvariantCulture, out var budget) || !(budget > 0 && budget <= 60_000))
                {
                    Console.Error.WriteLine($"dfbnet eval: --anytime '{budgetText}' is not a budget in milliseconds (above 0, at most 60000).");
                    return 2;
                }

                budgets.Add(budget);
            }

            var figures = new JsonObject();
            var report = await TableReport.RunAsync(runner, test, sets, timingCount, ratios, cancellationToken, figures);
            Console.Write(report);
            if (encodings.Count > 0)
            {
                Console.Write(TableReport.FramesReport(runner, test, sets, encodings, figures));
            }

            if (budgets.Count > 0)
            {
                Console.Write(await TableReport.AnytimeReport(runner, test, timingCount, budgets, figures, cancellationToken));
            }

            if (parse.GetValue(json) is { } jsonFile)
            {
                await File.WriteAllTextAsync(jsonFile.FullName, figures.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }), cancellationToken);
                Console.WriteLine($"Wrote the figures to {jsonFile.FullName}");
            }
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
    /// <param name="json">Filled with every figure of the report (for plots) when given.</param>
    public static async Task<string> RunAsync(OrtModelRunner runner, ImageDataset test, IReadOnlyList<(string Name, float[] Values)> sets, int timingCount, double[]? ratios, CancellationToken cancellationToken, JsonObject? json = null)
    {
        json ??= [];
        var rows = new JsonArray();
        json["model"] = runner.Engine.Name;
        json["images"] = test.Count;
        json["timingImages"] = timingCount;
        json["provider"] = runner.EngineDescription;
        json["rows"] = rows;
        var inv = CultureInfo.InvariantCulture;
        var logits = runner.Logits(test);
        var evaluation = new ExitEvaluation(logits.Exits, test.Labels, runner.Classes);
        var m = evaluation.ExitCount;
        var timingInputs = runner.Preprocess(test, 0, timingCount);
        var writer = new StringWriter(inv);
        writer.WriteLine($"Model {runner.Engine.Name}: {m} exits, {test.Count} test images ({test.Source}); latency: batch 1, ONNX Runtime {runner.EngineDescription} (main branch alone: {runner.MainBranchProvider}), over {timingCount} images");
        writer.WriteLine($"Exit errors alone: {string.Join(" / ", Enumerable.Range(0, m).Select(s => Pct(1 - evaluation.ExitAccuracy(s))))}");
        // Progress on stderr: each timing runs timingCount images one at a time, which takes a while on a CPU.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        void Progress(string step) => Console.Error.WriteLine($"dfbnet eval: {clock.Elapsed.TotalSeconds,5:0} s  timing {step} over {timingCount} images at batch 1");
        Progress("the main branch alone");
        var main = runner.TimeMainBranch(timingInputs, timingCount);

        // The paper's comparison is the baseline trained alone; a model without one is compared with its own main branch.
        var reference = main;
        if (logits.Baseline is { } baselineLogits)
        {
            var baselineError = 1 - ExitEvaluation.Accuracy(baselineLogits, test.Labels, runner.Classes);
            Progress("the baseline");
            reference = runner.TimeBaseline(timingInputs, timingCount);
            writer.WriteLine($"Gains are against the baseline trained alone ({runner.Engine.Manifest.Baseline!.Description ?? runner.Engine.Manifest.Baseline.File}).");
            writer.WriteLine($"{"thresholds",-28} {"error %",8} {"mean ms",8} {"p50 ms",7} {"p99 ms",7} {"gain x",7}  {"exit ratio % (1.." + m + ", fused)",-30} error within each exit % (1..{m}, fused)");
            writer.WriteLine($"{"baseline",-28} {Pct(baselineError),8} {reference.Mean,8:F3} {reference.P50,7:F3} {reference.P99,7:F3} {1.0,7:F2}  {"N/A",-30} N/A");
            rows.Add(Row("baseline", null, baselineError, reference, 1));
            writer.WriteLine($"{"main branch (joint)",-28} {Pct(1 - evaluation.ExitAccuracy(m - 1)),8} {main.Mean,8:F3} {main.P50,7:F3} {main.P99,7:F3} {reference.Mean / main.Mean,7:F2}  {"N/A",-30} N/A");
            rows.Add(Row("main branch", null, 1 - evaluation.ExitAccuracy(m - 1), main, reference.Mean / main.Mean));
        }
        else
        {
            writer.WriteLine($"{"thresholds",-28} {"error %",8} {"mean ms",8} {"p50 ms",7} {"p99 ms",7} {"gain x",7}  {"exit ratio % (1.." + m + ", fused)",-30} error within each exit % (1..{m}, fused)");
            writer.WriteLine($"{"main branch alone",-28} {Pct(1 - evaluation.ExitAccuracy(m - 1)),8} {main.Mean,8:F3} {main.P50,7:F3} {main.P99,7:F3} {1.0,7:F2}  {"N/A",-30} N/A");
            rows.Add(Row("main branch", null, 1 - evaluation.ExitAccuracy(m - 1), main, 1));
        }
        var done = 0;
        foreach (var (name, values) in sets)
        {
            Progress($"thresholds {name} ({++done} of {sets.Count})");
            var result = evaluation.Evaluate(values);
            var time = await runner.TimeEarlyExitAsync(timingInputs, timingCount, new ExitPolicy(values), cancellationToken);
            var label = name == string.Join(",", values.Select(v => v.ToString("0.###", inv))) ? name : $"{name} ({string.Join(",", values.Select(v => v.ToString("0.###", inv)))})";
            writer.WriteLine($"{label,-28} {Pct(result.Error),8} {time.Mean,8:F3} {time.P50,7:F3} {time.P99,7:F3} {reference.Mean / time.Mean,7:F2}  {string.Join(", ", result.ExitRatio.Select(r => (100 * r).ToString("F2", inv))),-30} {string.Join(", ", result.ErrorWithin.Select(e => double.IsNaN(e) ? "-" : (100 * e).ToString("F2", inv)))}");
            var row = Row(name, values, result.Error, time, reference.Mean / time.Mean);
            row["exitRatio"] = new JsonArray([.. result.ExitRatio.Select(r => (JsonNode)r)]);
            rows.Add(row);
        }

        // Accuracy of what each mode answers and of each kind of event (no timing: the exits' outputs decide them).
        var refineRule = runner.Engine.Policies.Default.RefineRule;
        var rules = DfbNet.Core.RefineRules.All;
        writer.WriteLine();
        writer.WriteLine($"Accuracy % by mode (refine: every exit run, no budget; the model's refine rule is {DfbNet.Core.RefineRules.Name(refineRule)}) and by event kind:");
        writer.WriteLine($"  {"thresholds",-26} {"first-exit",10} {"refine",7} {"full",6}  {"early exit",10} {"refinement exit 2.." + m,-20} {"fused",6}  refine by rule ({string.Join(", ", rules.Select(DfbNet.Core.RefineRules.Name))})");
        var modesJson = new JsonArray();
        json["refineRule"] = DfbNet.Core.RefineRules.Name(refineRule);
        json["modes"] = modesJson;
        foreach (var (name, values) in sets)
        {
            var modes = evaluation.EvaluateModes(values);
            modesJson.Add(new JsonObject
            {
                ["name"] = name,
                ["firstExit"] = modes.FirstExit,
                ["refine"] = modes.Refine[refineRule],
                ["full"] = modes.Full,
                ["earlyExit"] = Number(modes.EarlyExit),
                ["refinement"] = new JsonArray([.. modes.Refinement.Select(r => Number(r))]),
                ["fused"] = Number(modes.Fused),
                ["refineByRule"] = new JsonObject(rules.Select(r => KeyValuePair.Create(DfbNet.Core.RefineRules.Name(r), (JsonNode?)modes.Refine[r]))),
            });
            // Indented: the rows of this table do not start as the Table 2 rows above do.
            var label = name.Length > 26 ? name[..26] : name;
            writer.WriteLine($"  {label,-26} {Pct(modes.FirstExit),10} {Pct(modes.Refine[refineRule]),7} {Pct(modes.Full),6}  {Pct(modes.EarlyExit),10} {string.Join(", ", modes.Refinement.Skip(1).Select(Pct)),-20} {Pct(modes.Fused),6}  {string.Join(", ", rules.Select(r => Pct(modes.Refine[r])))}");
        }

        if (ratios is not null)
        {
            // Fusion runs every stage, so it costs what leaving at the last exit does.
            var paths = await runner.TimeExitPathsAsync(timingInputs, timingCount, cancellationToken);
            var weighted = paths.Select((p, s) => p * ratios[s]).Sum() + (paths[^1] * ratios[m]);
            writer.WriteLine();
            writer.WriteLine($"Given exit ratios % (1..{m}, fused) {string.Join(", ", ratios.Select(r => (100 * r).ToString("0.##", inv)))}: measured ms per image leaving at exit 1..{m} {string.Join(", ", paths.Select(p => p.ToString("F3", inv)))}");
            writer.WriteLine($"  weighted mean {weighted.ToString("F3", inv)} ms per image, gain {(reference.Mean / weighted).ToString("F2", inv)}x over the {(runner.HasBaseline ? "baseline" : "main branch alone")} ({reference.Mean.ToString("F3", inv)} ms): stage times of this model, exit ratios given, not its own");
        }

        return writer.ToString();
    }

    /// <summary>Each stage alone at each batch size: milliseconds per image, and the gain over batch 1.</summary>
    public static string StagesByBatch(OrtModelRunner runner, ImageDataset test, IReadOnlyList<int> sizes)
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

    private static JsonObject Row(string name, float[]? thresholds, double error, LatencySample time, double gain) => new()
    {
        ["name"] = name,
        ["thresholds"] = thresholds is null ? null : new JsonArray([.. thresholds.Select(t => (JsonNode)t)]),
        ["error"] = error,
        ["meanMs"] = time.Mean,
        ["p50Ms"] = time.P50,
        ["p99Ms"] = time.P99,
        ["gain"] = gain,
    };

    /// <summary>JSON has no NaN: a figure over no images is null.</summary>
    private static JsonNode? Number(double value) => double.IsNaN(value) ? null : value;

    /// <summary>
    /// Accuracy of the model when the test images travel as other frames: PNG, JPEG at a quality, upscaled first; each
    /// decoded and resized by the server's preprocessor. One row per encoding, the errors of the reference network and
    /// of every threshold set.
    /// </summary>
    public static string FramesReport(OrtModelRunner runner, ImageDataset test, IReadOnlyList<(string Name, float[] Values)> sets, IReadOnlyList<FrameEncoding> encodings, JsonObject json)
    {
        var inv = CultureInfo.InvariantCulture;
        var writer = new StringWriter(inv);
        var rows = new JsonArray();
        json["frames"] = rows;
        var reference = runner.HasBaseline ? "baseline" : "main branch";
        writer.WriteLine();
        writer.WriteLine($"Error % with the test images sent as frames (decoded and resized by the server's preprocessor):");
        writer.WriteLine($"{"frames",-14} {"bytes",7} {reference,12} {"main",7}  {string.Join(" ", sets.Select(s => $"{Short(s.Name),10}"))}");
        foreach (var encoding in encodings)
        {
            var logits = runner.Logits(test, encoding);
            var evaluation = new ExitEvaluation(logits.Exits, test.Labels, runner.Classes);
            var main = 1 - evaluation.ExitAccuracy(evaluation.ExitCount - 1);
            var referenceError = logits.Baseline is { } baseline ? 1 - ExitEvaluation.Accuracy(baseline, test.Labels, runner.Classes) : main;
            var bytes = Enumerable.Range(0, Math.Min(200, test.Count)).Average(i => encoding.Encode(test.ImageHwc(i), test.Side).Length);
            var errors = sets.Select(s => evaluation.Evaluate(s.Values).Error).ToList();
            writer.WriteLine($"{encoding,-14} {bytes,7:F0} {Pct(referenceError),12} {Pct(main),7}  {string.Join(" ", errors.Select(e => $"{Pct(e),10}"))}");
            rows.Add(new JsonObject
            {
                ["frames"] = encoding.ToString(),
                ["meanBytes"] = bytes,
                ["referenceError"] = referenceError,
                ["mainError"] = main,
                ["errors"] = new JsonObject(sets.Select((s, k) => KeyValuePair.Create(s.Name, (JsonNode?)errors[k]))),
            });
        }

        return writer.ToString();
    }

    /// <summary>
    /// The anytime curve: refine mode under each latency budget, frame by frame through the engine (preprocessing
    /// included, as the server counts the budget), the final answer scored; a frame cut before exit 1 counts as wrong.
    /// </summary>
    public static async Task<string> AnytimeReport(OrtModelRunner runner, ImageDataset test, int count, IReadOnlyList<double> budgetsMs, JsonObject json, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        var writer = new StringWriter(inv);
        var policy = runner.Engine.Policies.Default;
        var rows = new JsonArray();
        json["anytime"] = new JsonObject { ["preset"] = policy.Preset, ["images"] = count, ["points"] = rows };
        writer.WriteLine();
        writer.WriteLine($"Anytime: refine mode at the default preset ({policy.Preset}) under a latency budget, batch 1, {count} images (a frame cut before exit 1 has no answer and counts as wrong):");
        writer.WriteLine($"{"budget ms",10} {"accuracy %",11} {"mean ms",8} {"cut %",6} {"no answer %",12} {"exits run",10}");
        foreach (var budget in budgetsMs)
        {
            var point = await runner.RunWithBudgetAsync(test, count, policy, TimeSpan.FromMilliseconds(budget), cancellationToken);
            writer.WriteLine($"{budget,10:0.###} {Pct(point.Accuracy),11} {point.MeanMs,8:F3} {Pct(point.Cut),6} {Pct(point.Unanswered),12} {point.MeanExits,10:F2}");
            rows.Add(new JsonObject
            {
                ["budgetMs"] = budget,
                ["accuracy"] = point.Accuracy,
                ["meanMs"] = point.MeanMs,
                ["cut"] = point.Cut,
                ["unanswered"] = point.Unanswered,
                ["meanExits"] = point.MeanExits,
            });
        }

        return writer.ToString();
    }

    private static string Short(string name) => name.Length > 10 ? name[..10] : name;

    private static string Pct(double fraction) => double.IsNaN(fraction) ? "-" : (100 * fraction).ToString("F2", CultureInfo.InvariantCulture);
}
