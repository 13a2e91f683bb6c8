using System.Text.Json;
using System.Text.Json.Serialization;

namespace DfbNet.Core.Manifest;

/// <summary>Reads, validates and writes <c>manifest.json</c>.</summary>
public static class ManifestLoader
{
    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>Loads the manifest of a model folder and validates it, including that every stage file exists.</summary>
    /// <exception cref="ManifestException">The manifest is missing, unreadable or invalid; the message names the field.</exception>
    public static ModelManifest LoadFolder(string modelFolder)
    {
        var path = Path.Combine(modelFolder, ModelManifest.FileName);
        if (!File.Exists(path))
        {
            throw new ManifestException(path, "(file)", "no manifest.json in the model folder");
        }

        ModelManifest? manifest;
        try
        {
            using var stream = File.OpenRead(path);
            manifest = JsonSerializer.Deserialize<ModelManifest>(stream, JsonOptions);
        }
        catch (JsonException ex)
        {
            var field = string.IsNullOrEmpty(ex.Path) ? "(json)" : ex.Path;
            throw new ManifestException(path, field, $"not valid manifest JSON: {ex.Message}", ex);
        }

        if (manifest is null)
        {
            throw new ManifestException(path, "$", "the manifest is empty (null)");
        }

        ManifestValidator.Validate(manifest, path, modelFolder);
        return manifest;
    }

    /// <summary>Validates and writes a manifest into a model folder.</summary>
    public static void Save(ModelManifest manifest, string modelFolder)
    {
        var path = Path.Combine(modelFolder, ModelManifest.FileName);
        ManifestValidator.Validate(manifest, path, modelFolder);
        File.WriteAllText(path, JsonSerializer.Serialize(manifest, JsonOptions) + "\n");
    }
}
