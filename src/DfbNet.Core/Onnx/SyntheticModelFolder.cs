using DfbNet.Core.Manifest;

namespace DfbNet.Core.Onnx;

/// <summary>Writes a <see cref="SyntheticDfbNet"/> as a servable model folder: one ONNX file per stage and a manifest.</summary>
public static class SyntheticModelFolder
{
    /// <summary>The CIFAR-10 class names, in label order.</summary>
    public static IReadOnlyList<string> Cifar10Classes { get; } =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>
    /// Normalisation by CIFAR-10's channel statistics, for untrained models: real photos then land in the range the
    /// layers expect.
    /// </summary>
    public static NormalizationSpec Cifar10Normalization() => new()
    {
        Scale = 1f / 255f,
        Mean = [0.4914f, 0.4822f, 0.4465f],
        Std = [0.2470f, 0.2435f, 0.2616f],
    };

    /// <summary>Builds the network and writes <c>stage{s}.onnx</c> and <c>manifest.json</c> into <paramref name="folder"/>.</summary>
    /// <param name="folder">Created when missing.</param>
    /// <param name="options">Network shape and seed; its class count must equal the number of <paramref name="classes"/>.</param>
    /// <param name="classes">Class names; CIFAR-10's when null.</param>
    /// <param name="description">The manifest's description.</param>
    public static ModelManifest Write(string folder, SyntheticDfbNetOptions? options = null, IReadOnlyList<string>? classes = null, string? description = null)
    {
        options ??= new SyntheticDfbNetOptions();
        classes ??= Cifar10Classes;
        if (classes.Count != options.ClassCount)
        {
            throw new ArgumentException($"{classes.Count} class names for a network with {options.ClassCount} classes.", nameof(classes));
        }

        var stages = SyntheticDfbNet.Build(options);
        var manifest = new ModelManifest
        {
            SchemaVersion = ModelManifest.CurrentSchemaVersion,
            Description = description ?? $"UNTRAINED synthetic DFB-Net ({stages.Count} exits, widths {string.Join("/", options.StageWidths)}, seed {options.Seed}): random weights, predictions are meaningless",
            Untrained = true,
            Classes = [.. classes],
            Input = new InputSpec
            {
                Width = options.InputSize,
                Height = options.InputSize,
                Normalization = Cifar10Normalization(),
            },
            Training = new TrainingInfo { Command = $"dfbnet synth --out models/{Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)))} --seed {options.Seed} --size {options.InputSize} --widths {string.Join(",", options.StageWidths)}", Notes = "not trained" },
        };

        var m = stages.Count;
        manifest.Thresholds = new ThresholdSpec
        {
            Default = "balanced",
            Presets =
            {
                ["fast"] = [.. Enumerable.Repeat(0.5f, m - 1), 0f],
                ["balanced"] = [.. Enumerable.Repeat(0.9f, m - 1), 0f],
                ["accurate"] = [.. Enumerable.Repeat(0.99f, m - 1), 0.75f],
            },
        };

        return ModelFolderWriter.Write(folder, manifest, stages.Select(s => new StageFile(s.Index, s.Model, s.InputName, s.LogitsName, s.FeatureName, s.Flops, s.Parameters)));
    }
}
