using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DfbNet.Training.Data;
using DfbNet.Training.Model;
using DfbNet.Training.Native;
using DfbNet.Training.Training;

namespace DfbNet.Cli.Commands;

/// <summary><c>dfbnet train</c>: the baseline, then the whole DFB-Net, on CIFAR-10 or an image folder, with a checkpoint every epoch.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "Model and recipe: paper, edge or tiny.", DefaultValueFactory = _ => "edge" };
        var data = new Option<DirectoryInfo>("--data") { Description = "CIFAR-10 binaries (data_batch_1..5.bin, test_batch.bin, in the folder or its cifar-10/), or an image folder: one subfolder of JPEG/PNG files per class, or train/, val/ and test/ holding such subfolders.", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Output folder: checkpoint.json, model.bin, optimizer.bin.", Required = true };
        var epochs = new Option<int?>("--epochs") { Description = "Epochs of the whole DFB-Net (joint loss)." };
        var baselineEpochs = new Option<int?>("--baseline-epochs") { Description = "Epochs of the baseline (main branch alone)." };
        var lr = new Option<double?>("--lr") { Description = "Peak learning rate of the baseline." };
        var jointLr = new Option<double?>("--joint-lr") { Description = "Peak learning rate of the whole DFB-Net." };
        var batch = new Option<int?>("--batch") { Description = "Mini-batch size." };
        var seed = new Option<int?>("--seed") { Description = "Seed of weights, validation split, order and augmentation." };
        var weights = new Option<string?>("--weights") { Description = "Loss weights alpha_1..alpha_M, comma separated (default 2.5,2.5,0.25)." };
        var weightDecay = new Option<double?>("--weight-decay") { Description = "SGD weight decay." };
        var distill = new Option<double?>("--distill") { Description = "Share (0..1) of each side exit's loss given to distillation from the main exit (0: the paper's loss)." };
        var temperature = new Option<double?>("--distill-temperature") { Description = "Softmax temperature of the distillation term." };
        var branchGradient = new Option<double?>("--branch-grad-scale") { Description = "Scale (0..1) of the gradient the side exits send into the shared trunk (1: the paper's joint loss)." };
        var jpeg = new Option<double?>("--jpeg-augment") { Description = "Share (0..1) of training images sent through a JPEG round trip at a random quality of 60..95 first, as camera frames are (default none); with --resume, from the next epoch on." };
        var schedule = new Option<LearningRateSchedule?>("--schedule") { Description = "step (the paper's), cosine or onecycle." };
        var validation = new Option<int?>("--validation") { Description = "CIFAR-10: training images held out for validation and calibration (default 5000)." };
        var validationShare = new Option<double?>("--validation-share") { Description = "Image folder without val/: share of every class held out for validation and calibration (default 0.1)." };
        var testShare = new Option<double?>("--test-share") { Description = "Image folder without test/: share of every class held out for testing (default 0.1)." };
        var branches = new Option<string?>("--branches") { Description = "Side branches other than the preset's, in exit order: CONV.BLOCK:NnKk, each leaving after block BLOCK of ConvCONV_x (2..4) with n blocks a group widened by k (the edge preset's: 2.1:N1k0.5,3.2:N1k1). Not with --resume." };
        var inputSize = new Option<int?>("--input-size") { Description = "Square input side other than the preset's (e.g. 64 for camera crops); its crop and random-resize range scale with it." };
        var trainLimit = new Option<int?>("--train-limit") { Description = "Use only N training images (smoke runs): CIFAR-10's first N, before the validation hold-out; an image folder's first N of its seeded order, after the split." };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its last checkpoint." };
        var fromBaseline = new Option<DirectoryInfo?>("--from-baseline") { Description = "Skip the baseline: start the joint phase from the main branch of a run made with --epochs 0 (same main branch, --seed and split flags; side branches and joint options may differ)." };
        var fromModel = new Option<DirectoryInfo?>("--from-model") { Description = "Fine-tune an exported model folder (models/default, for example): the joint phase starts from its stages' weights, with its baseline, classes, normalisation and split; --preset and --branches must describe its network. Use a low --joint-lr." };
        var threads = new Option<int?>("--threads") { Description = "libtorch intra-op threads." };
        var libtorch = new Option<DirectoryInfo?>("--libtorch") { Description = $"A PyTorch torch/lib folder to run on (CUDA); also ${TorchNative.LibTorchEnvironmentVariable}." };

        var command = new Command("train", "Train a DFB-Net on CIFAR-10 or an image folder: the baseline, then the whole network with the weighted joint loss.")
        {
            preset, data, output, epochs, baselineEpochs, lr, jointLr, batch, seed, weights, weightDecay, distill, temperature, branchGradient, jpeg, schedule, validation, validationShare, testShare, branches, inputSize, trainLimit, resume, fromBaseline, fromModel, threads, libtorch,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            TorchNative.EnsureLoaded(parse.GetValue(libtorch)?.FullName);
            if (parse.GetValue(inputSize) is { } size && size < DfbNetConfig.MinInputSize)
            {
                Console.Error.WriteLine($"dfbnet train: --input-size {size}: the network needs inputs of at least {DfbNetConfig.MinInputSize}x{DfbNetConfig.MinInputSize}.");
                return Task.FromResult(2);
            }

            try
            {
                _ = DfbNetConfig.FromPreset(parse.GetValue(preset)!);
            }
            catch (ArgumentException ex)
            {
                // Before the data is read: an unknown preset is the user's to fix, in one line.
                Console.Error.WriteLine($"dfbnet train: --preset: {ex.Message.Split(" (Parameter", 2)[0]}");
                return Task.FromResult(2);
            }

            IReadOnlyList<BranchSpec>? branchSpecs = null;
            if (parse.GetValue(branches) is { } branchText)
            {
                try
                {
                    branchSpecs = BranchSpec.ParseList(branchText);
                    (DfbNetConfig.FromPreset(parse.GetValue(preset)!) with { Branches = branchSpecs }).Validate();
                }
                catch (Exception ex) when (ex is FormatException or ArgumentException)
                {
                    Console.Error.WriteLine($"dfbnet train: --branches: {ex.Message}");
                    return Task.FromResult(2);
                }

                if (parse.GetValue(resume))
                {
                    Console.Error.WriteLine("dfbnet train: --branches: a resumed run keeps the branches it began with; leave out --branches, or start a new run (--from-baseline keeps the baseline).");
                    return Task.FromResult(2);
                }
            }

            if (parse.GetValue(fromModel) is { } modelDir && (parse.GetValue(resume) || parse.GetValue(fromBaseline) is not null))
            {
                Console.Error.WriteLine($"dfbnet train: --from-model: starts a new run; it goes with neither --resume nor --from-baseline.");
                return Task.FromResult(2);
            }

            if (parse.GetValue(resume) && !File.Exists(Path.Combine(parse.GetValue(output)!.FullName, Checkpoint.FileName)))
            {
                // Resuming nothing would silently start a fresh run in a folder the user thinks holds one.
                Console.Error.WriteLine($"dfbnet train: --resume: {parse.GetValue(output)!.FullName} holds no {Checkpoint.FileName} to resume; leave out --resume to start a run there.");
                return Task.FromResult(2);
            }

            void Log(string line) => Console.WriteLine($"{DateTime.Now:HH:mm:ss} {line}");
            var source = TrainingDataSource.Open(parse.GetValue(data)!.FullName, Log);
            var options = TrainingRecipes.For(parse.GetValue(preset)!, source.Classes.Count, parse.GetValue(inputSize), branchSpecs);

            options = options with
            {
                JointEpochs = parse.GetValue(epochs) ?? options.JointEpochs,
                BaselineEpochs = parse.GetValue(baselineEpochs) ?? options.BaselineEpochs,
                BaselineLearningRate = parse.GetValue(lr) ?? options.BaselineLearningRate,
                JointLearningRate = parse.GetValue(jointLr) ?? options.JointLearningRate,
                BatchSize = parse.GetValue(batch) ?? options.BatchSize,
                Seed = parse.GetValue(seed) ?? options.Seed,
                WeightDecay = parse.GetValue(weightDecay) ?? options.WeightDecay,
                Distillation = parse.GetValue(distill) ?? options.Distillation,
                DistillationTemperature = parse.GetValue(temperature) ?? options.DistillationTemperature,
                BranchGradientScale = parse.GetValue(branchGradient) ?? options.BranchGradientScale,
                Jpeg = parse.GetValue(jpeg) is { } share ? new JpegAugmentation(share) : options.Jpeg,
                Schedule = parse.GetValue(schedule) ?? options.Schedule,
                ValidationCount = parse.GetValue(validation) ?? options.ValidationCount,
                ValidationShare = parse.GetValue(validationShare) ?? options.ValidationShare,
                TestShare = parse.GetValue(testShare) ?? options.TestShare,
                Threads = parse.GetValue(threads) ?? options.Threads,
                LossWeights = parse.GetValue(weights) is { } w
                    ? [.. w.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(v => float.Parse(v, CultureInfo.InvariantCulture))]
                    : options.LossWeights,
            };

            if (!parse.GetValue(resume) && options.LossWeights.Count != options.Model.ExitCount)
            {
                Console.Error.WriteLine($"dfbnet train: --weights: {options.LossWeights.Count} loss weights for {options.Model.ExitCount} exits; give one per exit, the main branch's last.");
                return Task.FromResult(2);
            }

            // A resumed run reads its data as it began: its own input size and split, whatever the flags say now.
            var outDir = parse.GetValue(output)!.FullName;
            var begun = parse.GetValue(resume) && File.Exists(Path.Combine(outDir, Checkpoint.FileName)) ? Checkpoint.Load(outDir).Options : options;
            var trainingData = source.Load(begun.Model.TestSize, begun.Split(), parse.GetValue(trainLimit), cancellationToken);
            var trainer = new Trainer(outDir, Log);
            Checkpoint result;
            var thisRun = Stopwatch.StartNew();
            try
            {
                result = trainer.Run(
                    options,
                    trainingData,
                    parse.GetValue(resume),
                    resumeEpochs: (parse.GetValue(baselineEpochs), parse.GetValue(epochs)),
                    fromBaseline: parse.GetValue(fromBaseline)?.FullName,
                    resumeJpeg: parse.GetValue(jpeg) is { } resumeShare ? new JpegAugmentation(resumeShare) : null,
                    fromModel: parse.GetValue(fromModel)?.FullName,
                    cancellationToken: cancellationToken);
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidDataException)
            {
                // The run's settings against its data, its baseline or model folder (another network, split or classes).
                Console.Error.WriteLine($"dfbnet train: {ex.Message.Split(" (Parameter", 2)[0]}");
                return Task.FromResult(2);
            }

            // The checkpoint's time includes what it began from (a resumed run, --from-baseline, --from-model); say both.
            Console.WriteLine($"Training finished after {thisRun.Elapsed.TotalSeconds:F0} s in this run, {result.ElapsedSeconds:F0} s in all; checkpoint in {parse.GetValue(output)!.FullName}");
            return Task.FromResult(0);
        });
        return command;
    }
}
