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
    /// <summary>Preset that never exits early: exits 1..M-1 never fire (max softmax cannot exceed 1) and exit M always does.</summary>
    public const string MainPreset = "main";

    /// <summary>The presets of a freshly exported model (calibration adds its own): the main branch alone, and the
    /// paper's CIFAR-10 thresholds.</summary>
    internal static ThresholdSpec ExportPresets(int exits) => new()
    {
        Default = MainPreset,
        Presets =
        {
            [MainPreset] = [.. Enumerable.Repeat(1f, exits - 1), 0f],
            ["paper"] = [.. Enumerable.Repeat(0.99f, exits - 1), 0.75f],
        },
    };

    public static ModelManifest Export(string checkpointFolder, string modelFolder, string? description = null)
    {
        var checkpoint = Checkpoint.Load(checkpointFolder);
        Native.TorchNative.EnsureLoaded();
        using var model = checkpoint.LoadModel(checkpointFolder);
        return Export(model, checkpoint, modelFolder, description);
    }

    private static string Notes(Checkpoint checkpoint)
    {
        var options = checkpoint.Options;
        var config = options.Model;
        var inv = CultureInfo.InvariantCulture;
        var nesterov = options.Nesterov ? " (Nesterov)" : "";
        var distillation = options.Distillation > 0
            ? string.Create(inv, $", side exits distilled from the main exit (share {options.Distillation}, temperature {options.DistillationTemperature})")
            : "";
        var notes = string.Create(inv, $"phase {checkpoint.Phase}; baseline {options.BaselineEpochs} epochs at peak lr {options.BaselineLearningRate}, whole DFB-Net {options.JointEpochs} epochs at peak lr {options.JointLearningRate} ({options.Schedule}), batch {options.BatchSize}, SGD momentum {options.Momentum}{nesterov}, weight decay {options.WeightDecay}, loss weights {string.Join("/", options.LossWeights)}{distillation}, seed {options.Seed}; augmentation: random h,w in [{config.ScaleMin},{config.ScaleMax}], {config.CropSize} crop, flip");
        if (checkpoint.BaselineTestAccuracy is { } baseline)
        {
            notes += string.Create(inv, $"; baseline (main branch before joint training) test accuracy {baseline:F4}");
        }

        return notes;
    }

    internal static ModelManifest Export(DfbNetModel model, Checkpoint checkpoint, string modelFolder, string? description = null)
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
                $"DFB-Net '{config.Name}' trained on CIFAR-10: {config.Describe()}"),
            Untrained = checkpoint.Phase != TrainingPhase.Done,
            Classes = [.. checkpoint.Classes],
            Input = new InputSpec
            {
                Width = config.TestSize,
                Height = config.TestSize,
                Normalization = new NormalizationSpec { Scale = 1f / 255f, Mean = [.. checkpoint.Mean], Std = [.. checkpoint.Std] },
            },
            Thresholds = ExportPresets(m),
            Training = new TrainingInfo
            {
                Command = checkpoint.Command,
                Dataset = checkpoint.Dataset,
                Machine = checkpoint.Machine,
                Date = checkpoint.Finished ?? checkpoint.Started,
                DurationSeconds = Math.Round(checkpoint.ElapsedSeconds, 1),
                Notes = Notes(checkpoint),
            },
            Accuracy = checkpoint.TestAccuracy is { } acc ? new AccuracyInfo { Dataset = "cifar10-test", Exits = [.. acc] } : null,
        };

        return ModelFolderWriter.Write(modelFolder, manifest, stages.Select(s => new StageFile(s.Index, s.Model, s.InputName, s.LogitsName, s.FeatureName, s.Flops, s.Parameters)));
    }
}
