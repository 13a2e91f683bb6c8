using System.Globalization;
using DfbNet.Core.Manifest;
using DfbNet.Training.Model;
using DfbNet.Training.Training;

namespace DfbNet.Training.Export;

/// <summary>
/// Writes a training checkpoint as a servable model folder: <c>stage{s}.onnx</c> and <c>manifest.json</c> with the
/// checkpoint's normalisation, classes, recipe and measured accuracy. The main branch alone, for measuring gains, is
/// composed from the stages when needed (<see cref="Core.Onnx.MainBranchComposer"/>).
/// </summary>
public static class ModelExporter
{
    public static ModelManifest Export(string checkpointFolder, string modelFolder, string? description = null)
    {
        var checkpoint = Checkpoint.Load(checkpointFolder);
        Native.TorchNative.EnsureLoaded();
        using var model = checkpoint.LoadModel(checkpointFolder);
        using var baseline = checkpoint.LoadBaseline(checkpointFolder);
        return Export(model, checkpoint, modelFolder, description, baseline);
    }

    /// <summary>The baseline trained alone as one graph: its main branch copied into a network without side branches,
    /// exported as a single stage (image to logits), so its file, multiply-adds and parameters are the main branch's.</summary>
    private static BaselineFile ExportBaseline(DfbNetModel baseline, Checkpoint checkpoint)
    {
        using var mainOnly = new DfbNetModel(baseline.Config with { Branches = [] });
        mainOnly.CopyMainBranchFrom(baseline);
        mainOnly.eval();
        var stage = OnnxStageExporter.ExportStages(mainOnly).Single();
        var description = checkpoint.BaselineDescription
            ?? string.Create(CultureInfo.InvariantCulture, $"main branch trained alone for {checkpoint.Options.BaselineEpochs} epochs, before joint training");
        return new BaselineFile(stage.Model, stage.InputName, stage.LogitsName, description, stage.Flops, stage.Parameters);
    }

    /// <summary>What the run trained on; checkpoints from before image folders name none and are all CIFAR-10.</summary>
    private static string DatasetName(Checkpoint checkpoint) => checkpoint.DatasetName ?? Data.CifarReader.Cifar10Name;

    private static string Notes(Checkpoint checkpoint)
    {
        var options = checkpoint.Options;
        var config = options.Model;
        var inv = CultureInfo.InvariantCulture;
        var nesterov = options.Nesterov ? " (Nesterov)" : "";
        var distillation = options.Distillation > 0
            ? string.Create(inv, $", side exits distilled from the main exit (share {options.Distillation}, temperature {options.DistillationTemperature})")
            : "";
        var notes = string.Create(inv, $"phase {checkpoint.Phase}; baseline {options.BaselineEpochs} epochs at peak lr {options.BaselineLearningRate}, whole DFB-Net {options.JointEpochs} epochs at peak lr {options.JointLearningRate} ({options.Schedule}), batch {options.BatchSize}, SGD momentum {options.Momentum}{nesterov}, weight decay {options.WeightDecay}, loss weights {string.Join("/", options.LossWeights)}{distillation}, seed {options.Seed}; augmentation: random h,w in [{config.ScaleMin},{config.ScaleMax}], {config.CropSize} crop, flip{(options.Jpeg is { Probability: > 0 } jpeg ? string.Create(inv, $", JPEG round trips of {jpeg.Probability} of images at q{jpeg.QualityMin}..{jpeg.QualityMax}") : "")}");
        if (checkpoint.BaselineTestAccuracy is { } baseline)
        {
            notes += string.Create(inv, $"; baseline (main branch before joint training) test accuracy {baseline:F4}");
        }

        return notes;
    }

    internal static ModelManifest Export(DfbNetModel model, Checkpoint checkpoint, string modelFolder, string? description = null, DfbNetModel? baseline = null)
    {
        model.eval();
        var stages = OnnxStageExporter.ExportStages(model);
        var config = model.Config;
        var options = checkpoint.Options;
        var m = stages.Count;
        var manifest = new ModelManifest
        {
            SchemaVersion = ModelManifest.CurrentSchemaVersion,
            Description = description ?? string.Create(CultureInfo.InvariantCulture,
                $"DFB-Net '{config.Name}' trained on {DatasetName(checkpoint)}: {config.Describe()}"),
            Untrained = checkpoint.Phase != TrainingPhase.Done,
            Classes = [.. checkpoint.Classes],
            Input = new InputSpec
            {
                Width = config.TestSize,
                Height = config.TestSize,
                Normalization = new NormalizationSpec { Scale = 1f / 255f, Mean = [.. checkpoint.Mean], Std = [.. checkpoint.Std] },
            },
            Thresholds = DefaultPresets.Create(m),
            Training = new TrainingInfo
            {
                Command = checkpoint.Command,
                Dataset = checkpoint.Dataset,
                Machine = checkpoint.Machine,
                Date = checkpoint.Finished ?? checkpoint.Started,
                DurationSeconds = Math.Round(checkpoint.ElapsedSeconds, 1),
                Notes = Notes(checkpoint),
                Split = options.Split(),
            },
            Accuracy = checkpoint.TestAccuracy is { } acc ? new AccuracyInfo { Dataset = $"{DatasetName(checkpoint)} test", Exits = [.. acc], Baseline = checkpoint.BaselineTestAccuracy } : null,
        };

        return ModelFolderWriter.Write(
            modelFolder,
            manifest,
            stages.Select(s => new StageFile(s.Index, s.Model, s.InputName, s.LogitsName, s.FeatureName, s.Flops, s.Parameters)),
            baseline is null ? null : ExportBaseline(baseline, checkpoint));
    }
}
