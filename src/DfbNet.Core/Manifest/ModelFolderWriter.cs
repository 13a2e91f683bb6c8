namespace DfbNet.Core.Manifest;

/// <summary>One stage's ONNX model and what the manifest says of it.</summary>
/// <param name="Index">1-based stage number (the file is <c>stage{Index}.onnx</c>).</param>
public sealed record StageFile(int Index, byte[] Model, string InputName, string LogitsName, string? FeatureName, long Flops, long Parameters);

/// <summary>The baseline network's ONNX model (image to logits) and what the manifest says of it.</summary>
public sealed record BaselineFile(byte[] Model, string InputName, string LogitsName, string? Description, long Flops, long Parameters);

/// <summary>Writes a servable model folder: the stage files, their manifest entries, and the validated manifest.</summary>
public static class ModelFolderWriter
{
    /// <param name="folder">The model folder (created if missing).</param>
    /// <param name="manifest">The manifest; its stage entries (and baseline entry, when <paramref name="baseline"/> is given) are filled in here.</param>
    /// <param name="stages">The stage models.</param>
    /// <param name="baseline">The baseline trained alone, written as <c>baseline.onnx</c>; null for none.</param>
    public static ModelManifest Write(string folder, ModelManifest manifest, IEnumerable<StageFile> stages, BaselineFile? baseline = null)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(stages);
        Directory.CreateDirectory(folder);
        manifest.Stages.Clear();
        foreach (var stage in stages.OrderBy(s => s.Index))
        {
            var file = $"stage{stage.Index}.onnx";
            File.WriteAllBytes(Path.Combine(folder, file), stage.Model);
            manifest.Stages.Add(new StageSpec
            {
                File = file,
                Input = stage.InputName,
                LogitsOutput = stage.LogitsName,
                FeatureOutput = stage.FeatureName,
                Flops = stage.Flops,
                Parameters = stage.Parameters,
            });
        }

        if (baseline is not null)
        {
            const string file = "baseline.onnx";
            File.WriteAllBytes(Path.Combine(folder, file), baseline.Model);
            manifest.Baseline = new BaselineSpec
            {
                File = file,
                Input = baseline.InputName,
                LogitsOutput = baseline.LogitsName,
                Description = baseline.Description,
                Flops = baseline.Flops,
                Parameters = baseline.Parameters,
            };
        }

        ManifestLoader.Save(manifest, folder);
        return manifest;
    }
}
