using System.Diagnostics;
using System.Globalization;
using DfbNet.Core.Manifest;
using DfbNet.Training.Data;
using DfbNet.Training.Evaluation;
using DfbNet.Training.Export;
using DfbNet.Training.Model;
using DfbNet.Training.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DfbNet.Training.Training;

/// <summary>The images a run uses: training (without the validation hold-out), validation, and optionally test.</summary>
public sealed record TrainingData(ImageDataset Train, ImageDataset Validation, ImageDataset? Test);

/// <summary>
/// The paper's recipe: the baseline (main branch alone) from scratch, then the whole DFB-Net from the baseline's
/// weights with He-initialised branches and the weighted joint loss. SGD with momentum and weight decay; a
/// checkpoint after every epoch.
/// </summary>
public sealed class Trainer
{
    private readonly string _outDir;
    private readonly Action<string> _log;

    public Trainer(string outDir, Action<string> log)
    {
        _outDir = outDir;
        _log = log;
    }

    /// <summary>Trains from scratch (or resumes the run in the output folder) until both phases are done.</summary>
    /// <param name="options">Used for a new run; a resumed run keeps the options stored in its checkpoint.</param>
    /// <param name="data">The images.</param>
    /// <param name="resume">Continue the run in the output folder when it has a checkpoint.</param>
    /// <param name="stopAfterEpochs">Stop (with a checkpoint) after this many epochs of this session; for tests.</param>
    /// <param name="resumeEpochs">On resume, new epoch counts (baseline, joint) replacing the stored ones, to shorten or
    /// extend a run; the schedule then follows the new length from the current epoch on.</param>
    /// <param name="cancellationToken">Stops between batches; the last completed epoch stays saved.</param>
    /// <param name="fromBaseline">A new run's joint phase starts from the finished baseline in this training folder
    /// instead of training one (same main branch, seed and validation split; other side branches or joint options).</param>
    /// <param name="resumeJpeg">On resume, JPEG round trips from the next epoch on, replacing the stored setting (for
    /// example a few epochs of them at the end of a finished run); null keeps it.</param>
    /// <param name="fromModel">A new run's joint phase starts from the weights of an exported model folder (its stages,
    /// and its baseline kept as this run's), with its normalisation and classes, instead of training a baseline: to
    /// fine-tune a model whose checkpoint is gone, for example the bundled one. The run's network must be the model's.</param>
    public Checkpoint Run(TrainOptions options, TrainingData data, bool resume, int? stopAfterEpochs = null, (int? Baseline, int? Joint) resumeEpochs = default, string? fromBaseline = null, JpegAugmentation? resumeJpeg = null, string? fromModel = null, CancellationToken cancellationToken = default)
    {
        TorchNative.EnsureLoaded();
        options.Jpeg?.Validate();
        if (options.BranchGradientScale is < 0 or > 1)
        {
            throw new ArgumentException($"Branch gradient scale {options.BranchGradientScale} must lie in [0, 1].", nameof(options));
        }

        Directory.CreateDirectory(_outDir);
        Checkpoint checkpoint;
        DfbNetModel model;
        var resuming = resume && File.Exists(Path.Combine(_outDir, Checkpoint.FileName));
        if (resuming && (fromBaseline ?? fromModel) is not null)
        {
            throw new ArgumentException($"{_outDir} already holds a run: resume it without a baseline or model folder, or start the new run in another folder.");
        }

        if (fromBaseline is not null && fromModel is not null)
        {
            throw new ArgumentException("Start a run from a baseline folder or from an exported model, not both.");
        }

        if (resuming)
        {
            checkpoint = Checkpoint.Load(_outDir);
            options = checkpoint.Options with
            {
                BaselineEpochs = resumeEpochs.Baseline ?? checkpoint.Options.BaselineEpochs,
                JointEpochs = resumeEpochs.Joint ?? checkpoint.Options.JointEpochs,
                Jpeg = resumeJpeg ?? checkpoint.Options.Jpeg,
            };
            if (options.Jpeg != checkpoint.Options.Jpeg)
            {
                _log($"JPEG round trips from joint epoch {checkpoint.Epoch + 1} on: {options.Jpeg}");
            }
            if (options != checkpoint.Options)
            {
                _log($"Epochs changed on resume: baseline {checkpoint.Options.BaselineEpochs} -> {options.BaselineEpochs}, joint {checkpoint.Options.JointEpochs} -> {options.JointEpochs}");

                // A finished run given more joint epochs continues its joint phase (a warm restart of the schedule).
                if (checkpoint.Phase == TrainingPhase.Done && options.JointEpochs > checkpoint.Options.JointEpochs)
                {
                    checkpoint.Phase = TrainingPhase.Joint;
                    checkpoint.Epoch = checkpoint.Options.JointEpochs;
                    checkpoint.Finished = null;
                }

                checkpoint.Options = options;
            }

            model = checkpoint.LoadModel(_outDir);
            _log($"Resuming {checkpoint.Phase} after epoch {checkpoint.Epoch} from {_outDir}");

            // The manifest reports how the model was made: every session's command line, not only the first.
            checkpoint.Command = $"{checkpoint.Command}; resumed after {checkpoint.Phase} epoch {checkpoint.Epoch}: {Environment.CommandLine}";
        }
        else if (fromBaseline is not null)
        {
            (checkpoint, model) = StartFromBaseline(fromBaseline, options, data);
        }
        else if (fromModel is not null)
        {
            (checkpoint, model) = StartFromModel(fromModel, options, data);
        }
        else
        {
            var (mean, std) = data.Train.ChannelStatistics();
            random.manual_seed(options.Seed);
            model = new DfbNetModel(options.Model);
            checkpoint = new Checkpoint
            {
                Options = options,
                Mean = mean,
                Std = std,
                Classes = data.Train.Classes,
                Dataset = data.Train.Source,
                DatasetName = data.Train.Name,
                Phase = options.BaselineEpochs > 0 ? TrainingPhase.Baseline : TrainingPhase.Joint,
                Command = Environment.CommandLine,
                Machine = MachineDescription(),
                Started = DateTimeOffset.UtcNow.ToString("u", CultureInfo.InvariantCulture),
            };
        }

        if (options.Threads > 0)
        {
            set_num_threads(options.Threads);
        }

        // CUDA when a PyTorch libtorch was loaded (--libtorch / DFBNET_LIBTORCH) and sees a GPU; checkpoints stay
        // device-neutral because TorchSharp saves and loads state on the CPU.
        var device = TorchNative.CudaInitialized ? CUDA : CPU;
        model.to(device);
        model.BranchGradientScale = options.BranchGradientScale;
        _log($"Model {options.Model.Name} on {device.type}: main {DfbNetModel.Count(model.MainParameters()):N0} parameters, whole {DfbNetModel.Count(model.parameters()):N0}; {data.Train.Count} training, {data.Validation.Count} validation images; libtorch threads {get_num_threads()}; {TorchNative.Description}");
        var recipe = checkpoint.Recipe();
        var session = Stopwatch.StartNew();
        var elapsedBefore = checkpoint.ElapsedSeconds;
        var epochsThisSession = 0;
        SGD? optimizer = null;
        try
        {
            while (checkpoint.Phase != TrainingPhase.Done)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var phaseEpochs = checkpoint.Phase == TrainingPhase.Baseline ? options.BaselineEpochs : options.JointEpochs;
                if (checkpoint.Epoch >= phaseEpochs)
                {
                    optimizer?.Dispose();
                    optimizer = null;
                    EndPhase(checkpoint, model, data, recipe);
                    checkpoint.ElapsedSeconds = elapsedBefore + session.Elapsed.TotalSeconds;
                    SaveAll(checkpoint, model, null);
                    continue;
                }

                if (stopAfterEpochs is { } stop && epochsThisSession >= stop)
                {
                    return checkpoint;
                }

                if (optimizer is null)
                {
                    optimizer = CreateOptimizer(model, checkpoint.Phase, options);
                    var saved = Path.Combine(_outDir, Checkpoint.OptimizerFile);
                    if (checkpoint.Epoch > 0 && File.Exists(saved))
                    {
                        optimizer.load_state_dict(saved);
                    }
                }

                var record = RunEpoch(model, optimizer, checkpoint, data, recipe, phaseEpochs, cancellationToken);
                checkpoint.History.Add(record);
                checkpoint.Epoch++;
                checkpoint.ElapsedSeconds = elapsedBefore + session.Elapsed.TotalSeconds;
                SaveAll(checkpoint, model, optimizer);
                epochsThisSession++;
            }
        }
        finally
        {
            optimizer?.Dispose();
            model.Dispose();
        }

        return checkpoint;
    }

    /// <summary>
    /// A new run whose baseline phase is another run's: that run's main branch, baseline history, time and command,
    /// then He-initialised side branches of this run's shape, exactly as <see cref="EndPhase"/> leaves a run of its own.
    /// </summary>
    private (Checkpoint Checkpoint, DfbNetModel Model) StartFromBaseline(string folder, TrainOptions options, TrainingData data)
    {
        var source = Checkpoint.Load(folder);
        var trained = source.Options;
        var atPhaseSwitch = (source.Phase == TrainingPhase.Joint && source.Epoch == 0) || (source.Phase == TrainingPhase.Done && trained.JointEpochs == 0);
        if (!atPhaseSwitch)
        {
            throw new ArgumentException($"{folder} is at {source.Phase} epoch {source.Epoch}: a baseline to start from is a run made with --epochs 0 (or one stopped right after its baseline), whose main branch no joint epoch has changed.");
        }

        if (!SameMainBranch(trained.Model, options.Model))
        {
            throw new ArgumentException($"{folder} trained another main branch ({trained.Model.Describe()}) than this run's ({options.Model.Describe()}).");
        }

        // The validation split must be the one the baseline never trained on.
        if (trained.Split() != options.Split())
        {
            throw new ArgumentException($"{folder} split its data as {trained.Split()}; this run splits it as {options.Split()}. Use the same --seed, --validation, --validation-share and --test-share.");
        }

        using var baseline = source.LoadModel(folder);
        random.manual_seed(options.Seed);
        var model = new DfbNetModel(options.Model);
        model.CopyMainBranchFrom(baseline);
        InitializeSideBranches(model, options.Seed);

        // This run's shape (its side branches may differ from the source's), the source's main branch.
        Checkpoint.WriteAtomically(Path.Combine(_outDir, Checkpoint.BaselineFile), tmp => model.save(tmp));

        options = options with
        {
            BaselineEpochs = trained.BaselineEpochs,
            BaselineLearningRate = trained.BaselineLearningRate,
        };
        var checkpoint = new Checkpoint
        {
            Options = options,
            Mean = source.Mean,
            Std = source.Std,
            Classes = source.Classes,
            Dataset = source.Dataset ?? data.Train.Source,
            DatasetName = source.DatasetName ?? data.Train.Name,
            Phase = options.JointEpochs > 0 ? TrainingPhase.Joint : TrainingPhase.Done,
            Command = $"{source.Command}; joint phase from that baseline: {Environment.CommandLine}",
            Machine = source.Machine,
            Started = source.Started,
            ElapsedSeconds = source.ElapsedSeconds,
            BaselineTestAccuracy = source.BaselineTestAccuracy,
            History = [.. source.History.Where(r => r.Phase == TrainingPhase.Baseline)],
        };
        _log($"Main branch from the baseline in {folder} ({trained.BaselineEpochs} epochs, {source.ElapsedSeconds:F0}s); joint training of the whole DFB-Net, loss weights {string.Join("/", options.LossWeights)}");
        SaveAll(checkpoint, model, null);
        return (checkpoint, model);
    }

    /// <summary>
    /// A new run whose joint phase starts from an exported model folder: its stages' weights, its baseline (kept as this
    /// run's, so eval still compares against the baseline trained alone), its normalisation, classes and history.
    /// </summary>
    private (Checkpoint Checkpoint, DfbNetModel Model) StartFromModel(string folder, TrainOptions options, TrainingData data)
    {
        var manifest = ManifestLoader.LoadFolder(folder);
        if (!manifest.Classes.SequenceEqual(data.Train.Classes))
        {
            throw new ArgumentException($"{folder} classifies {manifest.Classes.Count} classes ({string.Join(", ", manifest.Classes.Take(4))}...); the data has {data.Train.Classes.Count} ({string.Join(", ", data.Train.Classes.Take(4))}...). Fine-tune on data of the model's classes.");
        }

        if (manifest.Input.Width != options.Model.TestSize || manifest.Input.Height != options.Model.TestSize)
        {
            throw new ArgumentException($"{folder} takes {manifest.Input.Width}x{manifest.Input.Height} inputs; this run's network takes {options.Model.TestSize}x{options.Model.TestSize} (--input-size).");
        }

        // Calibration and validation must stay on images the model never trained on: its own split.
        if (manifest.Training?.Split is { } split && split != options.Split())
        {
            throw new ArgumentException($"{folder} was trained with the split {split}; this run splits its data as {options.Split()}. Use the same --seed, --validation, --validation-share and --test-share.");
        }

        var normalization = manifest.Input.Normalization;
        if (Math.Abs(normalization.Scale - (1f / 255f)) > 1e-9 || normalization.Mean.Length != 3 || normalization.Std.Length != 3)
        {
            throw new ArgumentException($"{folder} normalises its input with scale {normalization.Scale} and {normalization.Mean.Length} channel means; a DfbNet export has 1/255 and three.");
        }

        var mean = normalization.Mean;
        var std = normalization.Std;
        var recipe = new InputRecipe(options.Model.TestSize, options.Model.CropSize, options.Model.ScaleMin, options.Model.ScaleMax, mean, std);
        var model = new DfbNetModel(options.Model);
        OnnxWeightImporter.Import(model, [.. manifest.Stages.Select(s => Path.Combine(folder, s.File))], data.Train, recipe);
        if (manifest.Baseline is { } baselineFile)
        {
            using var mainOnly = new DfbNetModel(options.Model with { Branches = [] });
            OnnxWeightImporter.Import(mainOnly, [Path.Combine(folder, baselineFile.File)], data.Train, recipe);
            using var baseline = new DfbNetModel(options.Model);
            baseline.CopyMainBranchFrom(mainOnly);
            Checkpoint.WriteAtomically(Path.Combine(_outDir, Checkpoint.BaselineFile), tmp => baseline.save(tmp));
        }

        var checkpoint = new Checkpoint
        {
            Options = options,
            Mean = mean,
            Std = std,
            Classes = [.. manifest.Classes],
            Dataset = manifest.Training?.Dataset ?? data.Train.Source,
            DatasetName = data.Train.Name,
            Phase = options.JointEpochs > 0 ? TrainingPhase.Joint : TrainingPhase.Done,
            Command = $"{manifest.Training?.Command ?? $"the model in {folder}"}; then fine-tuned from its export: {Environment.CommandLine}",
            Machine = manifest.Training?.Machine ?? MachineDescription(),
            Started = DateTimeOffset.UtcNow.ToString("u", CultureInfo.InvariantCulture),
            ElapsedSeconds = manifest.Training?.DurationSeconds ?? 0,
            BaselineTestAccuracy = manifest.Accuracy?.Baseline,
            BaselineDescription = manifest.Baseline?.Description,
        };
        _log($"Weights from the exported model in {folder} ({manifest.Stages.Count} stages{(manifest.Baseline is null ? "" : ", its baseline kept")}); each block's folded second batch norm rebuilt from {Math.Min(OnnxWeightImporter.StatisticsImages, data.Train.Count)} training images; joint training of the whole DFB-Net, loss weights {string.Join("/", options.LossWeights)}");
        SaveAll(checkpoint, model, null);
        return (checkpoint, model);
    }

    /// <summary>Side branches start the joint phase from He initialisation (the paper's [16]), seeded so that a resume
    /// or a run from another's baseline redoes the same.</summary>
    private static void InitializeSideBranches(DfbNetModel model, int seed)
    {
        random.manual_seed(EpochSeed(seed, TrainingPhase.Joint, -1));
        foreach (var head in model.Heads.Take(model.ExitCount - 1))
        {
            DfbNetModel.Initialize(head);
        }
    }

    private static bool SameMainBranch(DfbNetConfig a, DfbNetConfig b) =>
        a.Blocks == b.Blocks && a.Classes == b.Classes && a.Dropout == b.Dropout
        && Enumerable.Range(0, 4).All(g => a.MainWidth(g) == b.MainWidth(g))
        && a.TestSize == b.TestSize && a.CropSize == b.CropSize && a.ScaleMin == b.ScaleMin && a.ScaleMax == b.ScaleMax;

    private void EndPhase(Checkpoint checkpoint, DfbNetModel model, TrainingData data, InputRecipe recipe)
    {
        var options = checkpoint.Options;
        if (checkpoint.Phase == TrainingPhase.Baseline)
        {
            if (data.Test is { } test)
            {
                var acc = TorchInference.Accuracy(TorchInference.ExitLogits(model, test, recipe, mainOnly: true), test.Labels, options.Model.Classes)[0];
                checkpoint.BaselineTestAccuracy = acc;
                _log($"Baseline done: main branch test error {100 * (1 - acc):F2}% on {test.Count} images");
            }

            // Kept as its own artefact: export writes it beside the stages so that eval compares against it.
            Checkpoint.WriteAtomically(Path.Combine(_outDir, Checkpoint.BaselineFile), tmp => model.save(tmp));
            InitializeSideBranches(model, options.Seed);

            File.Delete(Path.Combine(_outDir, Checkpoint.OptimizerFile));
            checkpoint.Phase = options.JointEpochs > 0 ? TrainingPhase.Joint : TrainingPhase.Done;
            checkpoint.Epoch = 0;
            if (checkpoint.Phase == TrainingPhase.Joint)
            {
                _log($"Joint training of the whole DFB-Net, loss weights {string.Join("/", options.LossWeights)}");
                return;
            }
        }

        if (data.Test is { } testSet)
        {
            var acc = TorchInference.Accuracy(TorchInference.ExitLogits(model, testSet, recipe), testSet.Labels, options.Model.Classes);
            checkpoint.TestAccuracy = acc;
            _log($"Training done: test error per exit {string.Join(" / ", acc.Select(a => $"{100 * (1 - a):F2}%"))} on {testSet.Count} images");
        }

        checkpoint.Phase = TrainingPhase.Done;
        checkpoint.Finished = DateTimeOffset.UtcNow.ToString("u", CultureInfo.InvariantCulture);
    }

    private EpochRecord RunEpoch(DfbNetModel model, SGD optimizer, Checkpoint checkpoint, TrainingData data, InputRecipe recipe, int phaseEpochs, CancellationToken cancellationToken)
    {
        var options = checkpoint.Options;
        var device = model.Heads[0].Classifier.weight!.device;
        var phase = checkpoint.Phase;
        var epoch = checkpoint.Epoch;
        var baseline = phase == TrainingPhase.Baseline;
        var seed = EpochSeed(options.Seed, phase, epoch);
        var rng = new Random(seed);
        random.manual_seed(seed);
        var order = Enumerable.Range(0, data.Train.Count).ToArray();
        rng.Shuffle(order);
        var batches = data.Train.Count / options.BatchSize;
        var exits = baseline ? 1 : model.ExitCount;
        var peak = baseline ? options.BaselineLearningRate : options.JointLearningRate;
        var weights = options.LossWeights;
        model.train();

        var epochWatch = Stopwatch.StartNew();
        var window = Stopwatch.StartNew();
        double lossSum = 0, epochLoss = 0;
        var correct = new long[exits];
        var seen = 0;
        for (var b = 0; b < batches; b++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var progress = (epoch + (b / (double)batches)) / phaseEpochs;
            var lr = LearningRates.At(options.Schedule, peak, epoch, progress, phaseEpochs);
            foreach (var group in optimizer.ParamGroups)
            {
                group.LearningRate = lr;
            }

            using var scope = NewDisposeScope();
            var (cpuX, cpuY) = BatchBuilder.Train(data.Train, order.AsSpan(b * options.BatchSize, options.BatchSize), recipe, rng, options.Jpeg);
            var (x, y) = (cpuX.to(device), cpuY.to(device));
            optimizer.zero_grad();
            Tensor[] logits = baseline ? [model.ForwardMain(x)] : model.forward(x);
            var loss = baseline
                ? nn.functional.cross_entropy(logits[0], y)
                : WeightedLoss(logits, y, weights, options.Distillation, options.DistillationTemperature);
            loss.backward();
            optimizer.step();

            var value = loss.item<float>();
            lossSum += value;
            epochLoss += value;
            for (var s = 0; s < exits; s++)
            {
                correct[s] += logits[s].argmax(1).eq(y).sum().item<long>();
            }

            seen += options.BatchSize;
            if ((b + 1) % options.LogEvery == 0 || b == batches - 1)
            {
                var n = (b % options.LogEvery) + 1;
                var rate = seen / window.Elapsed.TotalSeconds;
                var acc = string.Join("/", correct.Select(c => (100.0 * c / seen).ToString("F1", CultureInfo.InvariantCulture)));
                _log(string.Create(CultureInfo.InvariantCulture,
                    $"[{PhaseName(phase)} {epoch + 1}/{phaseEpochs}] batch {b + 1}/{batches} loss {lossSum / n:F4} train acc {acc}% lr {lr:F4} {rate:F0} img/s"));
                lossSum = 0;
                seen = 0;
                Array.Clear(correct);
                window.Restart();
            }
        }

        var seconds = epochWatch.Elapsed.TotalSeconds;
        var validation = TorchInference.Accuracy(TorchInference.ExitLogits(model, data.Validation, recipe, mainOnly: baseline), data.Validation.Labels, options.Model.Classes);
        var imagesPerSecond = batches * options.BatchSize / seconds;
        _log(string.Create(CultureInfo.InvariantCulture,
            $"[{PhaseName(phase)} {epoch + 1}/{phaseEpochs}] done in {seconds:F0}s ({imagesPerSecond:F0} img/s), validation error {string.Join(" / ", validation.Select(a => $"{100 * (1 - a):F2}%"))}"));
        return new EpochRecord(phase, epoch + 1, epochLoss / batches, validation, seconds, imagesPerSecond);
    }

    /// <summary>
    /// The paper's joint loss, sum over exits of alpha_s * CE(exit s); with <paramref name="distillation"/> = lambda > 0,
    /// each side exit's term becomes (1 - lambda) CE + lambda T^2 KL(main / T || exit / T), the main exit's logits
    /// detached (the teacher is not pulled towards its students).
    /// </summary>
    internal static Tensor WeightedLoss(Tensor[] logits, Tensor labels, IReadOnlyList<float> weights, double distillation = 0, double temperature = 1)
    {
        if (weights.Count != logits.Length)
        {
            throw new ArgumentException($"{weights.Count} loss weights for {logits.Length} exits.", nameof(weights));
        }

        if (distillation is < 0 or > 1 || temperature <= 0)
        {
            throw new ArgumentException($"Distillation {distillation} must lie in [0, 1] and temperature {temperature} be positive.", nameof(distillation));
        }

        var main = logits.Length - 1;
        Tensor? teacher = null;
        Tensor? teacherLog = null;
        if (distillation > 0)
        {
            teacherLog = nn.functional.log_softmax(logits[main].detach().div(temperature), 1);
            teacher = teacherLog.exp();
        }

        Tensor? total = null;
        for (var s = 0; s < logits.Length; s++)
        {
            var term = nn.functional.cross_entropy(logits[s], labels);
            if (teacher is not null && s < main)
            {
                var studentLog = nn.functional.log_softmax(logits[s].div(temperature), 1);
                var kl = teacher.mul(teacherLog!.sub(studentLog)).sum(1).mean().mul(temperature * temperature);
                term = term.mul(1 - distillation).add(kl.mul(distillation));
            }

            term = term.mul(weights[s]);
            total = total is null ? term : total.add(term);
        }

        return total!;
    }

    private static SGD CreateOptimizer(DfbNetModel model, TrainingPhase phase, TrainOptions options)
    {
        // The baseline trains the main branch alone; the branches' parameters stay out of it (and out of weight decay).
        var parameters = phase == TrainingPhase.Baseline ? model.MainParameters() : model.parameters();
        return optim.SGD(parameters, options.BaselineLearningRate, momentum: options.Momentum, weight_decay: options.WeightDecay, nesterov: options.Nesterov);
    }

    private void SaveAll(Checkpoint checkpoint, DfbNetModel model, SGD? optimizer)
    {
        Checkpoint.WriteAtomically(Path.Combine(_outDir, Checkpoint.ModelFile), tmp => model.save(tmp));
        if (optimizer is not null)
        {
            Checkpoint.WriteAtomically(Path.Combine(_outDir, Checkpoint.OptimizerFile), tmp => optimizer.save_state_dict(tmp));
        }

        // The JSON goes last: it names the epoch the two files above belong to.
        checkpoint.Save(_outDir);
    }

    internal static int EpochSeed(int seed, TrainingPhase phase, int epoch) =>
        unchecked((seed * 1_000_003) + ((int)phase * 10_007) + epoch + 1);

    private static string PhaseName(TrainingPhase phase) => phase == TrainingPhase.Baseline ? "baseline" : "joint";

    internal static string MachineDescription() =>
        $"{Environment.MachineName}, {Environment.ProcessorCount} CPUs, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, TorchSharp CPU";
}
