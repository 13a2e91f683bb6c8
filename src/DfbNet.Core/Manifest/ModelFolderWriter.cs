namespace DfbNet.Core.Manifest;

/// <summary>One stage's ONNX model and what the manifest says of it.</summary>
/// <param name="Index">1-based stage number (the file is <c>stage{Index}.onnx</c>).</param>
public sealed record StageFile(int Index, byte[] Model, string InputName, string LogitsName, string? FeatureName, long Flops, long Parameters);

/// <summary>Writes a servable model folder: the stage files, their manifest entries, and the validated manifest.</summary>
public static class ModelFolderWriter
{
    public static ModelManifest Write(string folder, ModelManifest manifest, IEnumerable<StageFile> stages)
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

        ManifestLoader.Save(manifest, folder);
        return manifest;
    }
}
