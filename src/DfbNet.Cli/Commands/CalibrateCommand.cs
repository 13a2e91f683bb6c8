using System.CommandLine;
using System.Globalization;
using DfbNet.Cli.Evaluation;
using DfbNet.Core;
using DfbNet.Core.Manifest;
using DfbNet.Training.Data;
using DfbNet.Training.Evaluation;
using DfbNet.Training.Training;

namespace DfbNet.Cli.Commands;

/// <summary><c>dfbnet calibrate</c>: sweeps thresholds on the held-out validation split and writes presets into the manifest.</summary>
internal static class CalibrateCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Model folder to calibrate (its manifest is rewritten).", Required = true };
        var data = new Option<DirectoryInfo>("--data") { Description = "The training data (CIFAR-10 or an image folder, as given to train): thresholds are chosen on its validation images, test accuracy measured on its test images.", Required = true };
        var checkpoint = new Option<DirectoryInfo?>("--checkpoint") { Description = "Training output folder: its split defines the held-out validation images (without it, the split the manifest records)." };
        var seed = new Option<int?>("--seed") { Description = "Seed of the split (default: as --checkpoint or the manifest records it, else 1)." };
        var validation = new Option<int?>("--validation") { Description = "CIFAR-10: size of the validation hold-out (default: as recorded, else 5000)." };
        var validationShare = new Option<double?>("--validation-share") { Description = "Image folder without val/: share of every class held out for validation (default: as recorded, else 0.1)." };
        var testShare = new Option<double?>("--test-share") { Description = "Image folder without test/: share of every class held out for testing (default: as recorded, else 0.1)." };
        var tolerance = new Option<double>("--fast-tolerance") { Description = "Accuracy the fast preset may lose against the main branch alone.", DefaultValueFactory = _ => 0.01 };
        var margin = new Option<double>("--margin") { Description = "Accuracy the balanced (default) preset must gain over the main branch on the validation split, e.g. 0.002 for 0.2 points.", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads.", DefaultValueFactory = _ => 1 };
        var cost = new Option<CalibrationCost>("--cost")
        {
            Description = "What a preset's speed is judged by: time (each stage's batch-1 latency, measured here on validation images) or macs (multiply-adds: the same on every machine, blind to per-stage overheads).",
            DefaultValueFactory = _ => CalibrationCost.Time,
        };
        var timingImages = new Option<int>("--timing-images") { Description = "Validation images each stage path is timed over (--cost time).", DefaultValueFactory = _ => 3000 };
        var command = new Command("calibrate", "Choose fast/balanced/accurate exit thresholds on the validation split (balanced, the default, is at least as accurate as the main branch alone).")
        {
            model, data, checkpoint, seed, validation, validationShare, testShare, tolerance, margin, threads, cost, timingImages,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var inv = CultureInfo.InvariantCulture;
            // The split the model was trained with (the checkpoint's, else the manifest's record), single flags overriding it.
            var trained = ManifestLoader.LoadFolder(parse.GetValue(model)!.FullName);
            var recorded = parse.GetValue(checkpoint) is { } dir ? Checkpoint.Load(dir.FullName).Options.Split() : trained.Training?.Split ?? new DataSplit();
            var split = recorded with
            {
                Seed = parse.GetValue(seed) ?? recorded.Seed,
                ValidationCount = parse.GetValue(validation) ?? recorded.ValidationCount,
                ValidationShare = parse.GetValue(validationShare) ?? recorded.ValidationShare,
                TestShare = parse.GetValue(testShare) ?? recorded.TestShare,
            };
            var source = TrainingDataSource.Open(parse.GetValue(data)!.FullName, Console.WriteLine);
            source.CheckClasses(trained.Classes);
            var held = source.LoadValidation(trained.Input.Width, split, cancellationToken);
            var test = source.LoadTest(trained.Input.Width, split, cancellationToken: cancellationToken);
            var folder = parse.GetValue(model)!.FullName;
            var byTime = parse.GetValue(cost) == CalibrationCost.Time;
            CalibrationResult result;
            Dictionary<string, float> testAccuracy;
            float? baselineTest = null;
            RefineRule refineRule;
            string refineReport;
            using (var runner = new OrtModelRunner(folder, parse.GetValue(threads)))
            {
                var manifest = runner.Engine.Manifest;

                double[] stageCost;
                double mainCost;
                if (byTime)
                {
                    // Multiply-adds miss what a stage costs beyond them (a run's fixed overhead, narrow layers that use the
                    // cores poorly, the cache a stage switch cools); the gain users see is in time, so time is the cost.
                    var count = Math.Clamp(parse.GetValue(timingImages), runner.Engine.ExitCount, held.Count);
                    Console.WriteLine($"Timing each exit's path at batch 1 over {count} validation images...");
                    var inputs = runner.Preprocess(held, 0, count);
                    var paths = await runner.TimeExitPathsAsync(inputs, count, cancellationToken);

                    // Stage s's share: leaving at exit s minus leaving at exit s - 1.
                    stageCost = [.. paths.Select((t, s) => Math.Max(0, s == 0 ? t : t - paths[s - 1]))];
                    mainCost = runner.HasBaseline ? runner.TimeBaseline(inputs, count).Mean : runner.TimeMainBranch(inputs, count).Mean;
                    Console.WriteLine(string.Create(inv, $"  ms per image leaving at exit 1..{paths.Length}: {string.Join(", ", paths.Select(p => p.ToString("F3", inv)))}; {(runner.HasBaseline ? "baseline" : "main branch alone")} {mainCost:F3}"));
                }
                else if (manifest.Stages.Any(s => s.Flops <= 0))
                {
                    // An imported model's stages carry no multiply-adds: there is nothing to weigh.
                    Console.Error.WriteLine($"dfbnet calibrate: --cost macs needs every stage's multiply-adds; {manifest.Stages.First(s => s.Flops <= 0).File} has none in the manifest (an imported model): use --cost time.");
                    return 2;
                }
                else
                {
                    // Deterministic: calibration does not depend on the machine or its load.
                    stageCost = [.. manifest.Stages.Select(s => (double)s.Flops)];
                    mainCost = manifest.Baseline?.Flops is > 0 and var flops ? flops : stageCost.Sum();
                }

                var heldLogits = runner.Logits(held);
                var validationEval = new ExitEvaluation(heldLogits.Exits, held.Labels, runner.Classes);
                double? baselineAccuracy = heldLogits.Baseline is { } heldBaseline ? ExitEvaluation.Accuracy(heldBaseline, held.Labels, runner.Classes) : null;
                result = ThresholdCalibrator.Calibrate(validationEval, stageCost, mainCost, parse.GetValue(tolerance), parse.GetValue(margin), baselineAccuracy);
                var presetThresholds = result.Presets.Values.Select(p => (IReadOnlyList<float>)p.Result.Thresholds)
                    .Concat(manifest.Thresholds.Presets.Where(p => !result.Presets.ContainsKey(p.Key)).Select(p => (IReadOnlyList<float>)p.Value)).ToList();
                (refineRule, var margins) = ThresholdCalibrator.ChooseRefineRule(validationEval, presetThresholds);
                refineReport = string.Join(", ", margins.Select(p => string.Create(inv, $"{RefineRules.Name(p.Key)} {100 * p.Value:+0.00;-0.00;0.00}")));
                var testLogits = runner.Logits(test);
                var testEval = new ExitEvaluation(testLogits.Exits, test.Labels, runner.Classes);
                testAccuracy = result.Presets.ToDictionary(p => p.Key, p => (float)(1 - testEval.Evaluate(p.Value.Result.Thresholds).Error));
                testAccuracy[DefaultPresets.Main] = (float)testEval.ExitAccuracy(testEval.ExitCount - 1);
                if (testLogits.Baseline is { } testBaseline)
                {
                    baselineTest = (float)ExitEvaluation.Accuracy(testBaseline, test.Labels, runner.Classes);
                }
            }

            var updated = ManifestLoader.LoadFolder(folder);
            foreach (var (name, (r, _)) in result.Presets)
            {
                updated.Thresholds.Presets[name] = r.Thresholds;
            }

            updated.Thresholds.Default = ThresholdCalibrator.Balanced;
            updated.Thresholds.RefineRule = RefineRules.Name(refineRule);
            updated.Accuracy ??= new AccuracyInfo { Dataset = $"{test.Name} test" };
            updated.Accuracy.Presets = testAccuracy;
            updated.Accuracy.Baseline = baselineTest ?? updated.Accuracy.Baseline;
            ManifestLoader.Save(updated, folder);

            var referenceText = baselineTest is not null ? string.Create(inv, $", baseline trained alone {100 * result.ReferenceAccuracy:F2}% (the presets' reference)") : "";
            Console.WriteLine($"Validation: {held.Count} images ({held.Source}); {result.Candidates} threshold sets; main branch alone {100 * result.MainAccuracy:F2}% accurate{referenceText}");
            foreach (var (name, (r, expected)) in result.Presets)
            {
                var speed = byTime
                    ? string.Create(inv, $"{expected:F3} ms per image expected ({result.MainCost / expected:F2}x the {(baselineTest is not null ? "baseline" : "main branch alone")})")
                    : string.Create(inv, $"{expected / 1e6:F1} M MACs per image ({result.MainCost / expected:F2}x fewer than all stages)");
                Console.WriteLine(string.Create(inv, $"  {name,-9} ({string.Join(",", r.Thresholds.Select(v => v.ToString("0.###", inv)))}): validation accuracy {100 * (1 - r.Error):F2}%, {speed}, test accuracy {100 * testAccuracy[name]:F2}%"));
            }

            Console.WriteLine($"Refine rule: {RefineRules.Name(refineRule)} (validation accuracy of refine's final answer minus first-exit's, points, at the worst preset: {refineReport})");
            Console.WriteLine($"Wrote presets fast/balanced/accurate (default balanced) and the refine rule into {Path.Combine(folder, ModelManifest.FileName)}");
            return 0;
        });
        return command;
    }
}

/// <summary>What <c>dfbnet calibrate</c> weighs a preset's speed by.</summary>
internal enum CalibrationCost
{
    Time,
    Macs,
}
