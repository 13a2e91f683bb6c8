using System.CommandLine;
using System.Globalization;
using DfbNet.Cli.Evaluation;
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
        var data = new Option<DirectoryInfo>("--data") { Description = "Folder holding cifar-10/.", Required = true };
        var checkpoint = new Option<DirectoryInfo?>("--checkpoint") { Description = "Training output folder: its seed and validation size define the held-out split." };
        var seed = new Option<int>("--seed") { Description = "Seed of the validation split (when no --checkpoint).", DefaultValueFactory = _ => 1 };
        var validation = new Option<int>("--validation") { Description = "Size of the validation split (when no --checkpoint).", DefaultValueFactory = _ => 5000 };
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
            model, data, checkpoint, seed, validation, tolerance, margin, threads, cost, timingImages,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var inv = CultureInfo.InvariantCulture;
            var (splitSeed, splitCount) = parse.GetValue(checkpoint) is { } dir
                ? (Checkpoint.Load(dir.FullName).Options.Seed, Checkpoint.Load(dir.FullName).Options.ValidationCount)
                : (parse.GetValue(seed), parse.GetValue(validation));
            var dataDir = parse.GetValue(data)!.FullName;
            var (_, held) = CifarReader.LoadCifar10Train(dataDir).SplitValidation(splitCount, splitSeed);
            var test = CifarReader.LoadCifar10Test(dataDir);
            var folder = parse.GetValue(model)!.FullName;
            var byTime = parse.GetValue(cost) == CalibrationCost.Time;
            CalibrationResult result;
            Dictionary<string, float> testAccuracy;
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
                    mainCost = runner.TimeMainBranch(inputs, count).Mean;
                    Console.WriteLine(string.Create(inv, $"  ms per image leaving at exit 1..{paths.Length}: {string.Join(", ", paths.Select(p => p.ToString("F3", inv)))}; main branch alone {mainCost:F3}"));
                }
                else
                {
                    // Deterministic: calibration does not depend on the machine or its load.
                    stageCost = [.. manifest.Stages.Select(s => (double)s.Flops)];
                    mainCost = stageCost.Sum();
                }

                var validationEval = new ExitEvaluation(runner.ExitLogits(held), held.Labels, runner.Classes);
                result = ThresholdCalibrator.Calibrate(validationEval, stageCost, mainCost, parse.GetValue(tolerance), parse.GetValue(margin));
                var testEval = new ExitEvaluation(runner.ExitLogits(test), test.Labels, runner.Classes);
                testAccuracy = result.Presets.ToDictionary(p => p.Key, p => (float)(1 - testEval.Evaluate(p.Value.Result.Thresholds).Error));
                testAccuracy["main"] = (float)testEval.ExitAccuracy(testEval.ExitCount - 1);
            }

            var updated = ManifestLoader.LoadFolder(folder);
            foreach (var (name, (r, _)) in result.Presets)
            {
                updated.Thresholds.Presets[name] = r.Thresholds;
            }

            updated.Thresholds.Default = ThresholdCalibrator.Balanced;
            updated.Accuracy ??= new AccuracyInfo { Dataset = "cifar10-test" };
            updated.Accuracy.Presets = testAccuracy;
            ManifestLoader.Save(updated, folder);

            Console.WriteLine($"Validation: {held.Count} images ({held.Source}); {result.Candidates} threshold sets; main branch alone {100 * result.MainAccuracy:F2}% accurate");
            foreach (var (name, (r, expected)) in result.Presets)
            {
                var speed = byTime
                    ? string.Create(inv, $"{expected:F3} ms per image expected ({result.MainCost / expected:F2}x the main branch alone)")
                    : string.Create(inv, $"{expected / 1e6:F1} M MACs per image ({result.MainCost / expected:F2}x fewer than all stages)");
                Console.WriteLine(string.Create(inv, $"  {name,-9} ({string.Join(",", r.Thresholds.Select(v => v.ToString("0.###", inv)))}): validation accuracy {100 * (1 - r.Error):F2}%, {speed}, test accuracy {100 * testAccuracy[name]:F2}%"));
            }

            Console.WriteLine($"Wrote presets fast/balanced/accurate (default balanced) into {Path.Combine(folder, ModelManifest.FileName)}");
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
