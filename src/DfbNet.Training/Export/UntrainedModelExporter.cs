using System.Globalization;
using DfbNet.Core.Manifest;
using DfbNet.Core.Onnx;
using DfbNet.Training.Model;
using static TorchSharp.torch;

namespace DfbNet.Training.Export;

/// <summary>
/// A training preset's exact architecture, untrained, as a servable model folder: for timing a model that has not
/// been trained (the paper preset on a GPU, weighted by the paper's exit ratios). Weights are the trainer's
/// initialisation, or all zero so that the files compress to almost nothing where a model must be copied over a
/// narrow link; dense kernels take the same time whatever the values.
/// </summary>
public static class UntrainedModelExporter
{
    public static ModelManifest Export(string preset, string modelFolder, bool zeroWeights, int seed)
    {
        var config = DfbNetConfig.FromPreset(preset);
        Native.TorchNative.EnsureLoaded();
        random.manual_seed(seed);
        using var model = new DfbNetModel(config);
        if (zeroWeights)
        {
            using var noGrad = no_grad();
            foreach (var parameter in model.parameters())
            {
                parameter.zero_();
            }
        }

        model.eval();
        var stages = OnnxStageExporter.ExportStages(model);
        var m = stages.Count;
        var weights = zeroWeights ? "all weights zero" : string.Create(CultureInfo.InvariantCulture, $"initial weights of seed {seed}");
        var manifest = new ModelManifest
        {
            SchemaVersion = ModelManifest.CurrentSchemaVersion,
            Description = $"UNTRAINED DFB-Net '{config.Name}' ({weights}; predictions are meaningless, for timing only): {config.Describe()}",
            Untrained = true,
            Classes = [.. SyntheticModelFolder.Cifar10Classes],
            Input = new InputSpec
            {
                Width = config.TestSize,
                Height = config.TestSize,
                Normalization = SyntheticModelFolder.Cifar10Normalization(),
            },
            Thresholds = DefaultPresets.Create(m),
            Training = new TrainingInfo
            {
                Command = string.Create(CultureInfo.InvariantCulture, $"dfbnet synth --preset {preset} --out {Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelFolder)))}{(zeroWeights ? " --zero-weights" : "")} --seed {seed}"),
                Notes = "not trained",
            },
        };

        return ModelFolderWriter.Write(modelFolder, manifest, stages.Select(s => new StageFile(s.Index, s.Model, s.InputName, s.LogitsName, s.FeatureName, s.Flops, s.Parameters)));
    }
}
