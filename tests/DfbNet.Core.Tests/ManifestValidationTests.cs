using System.Text.Json.Nodes;
using DfbNet.Core.Manifest;
using DfbNet.Core.Onnx;

namespace DfbNet.Core.Tests;

/// <summary>A bad manifest stops loading with a message that names the field.</summary>
public sealed class ManifestValidationTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "dfbnet-manifest-" + Guid.NewGuid().ToString("N"));

    public ManifestValidationTests()
    {
        SyntheticModelFolder.Write(_folder, new SyntheticDfbNetOptions { InputSize = 16, StageWidths = [4, 4, 4], BranchWidth = 4 });
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void ValidManifest_Loads()
    {
        var manifest = ManifestLoader.LoadFolder(_folder);
        Assert.Equal(3, manifest.Stages.Count);
        Assert.Equal(10, manifest.Classes.Count);
        Assert.Equal("balanced", manifest.Thresholds.Default);
    }

    public static TheoryData<string, string> Corruptions => new()
    {
        { "$.stages[1].file = 'missing.onnx'", "stages[1].file" },
        { "$.stages[2].input = 'other'", "stages[2].input" },
        { "$.stages[0].featureOutput = null", "stages[0].featureOutput" },
        { "$.thresholds.presets.fast[1] = 1.5", "thresholds.presets.fast[1]" },
        { "$.thresholds.presets.fast[0] = -0.1", "thresholds.presets.fast[0]" },
        { "$.thresholds.presets.balanced = [0.5, 0.5]", "thresholds.presets.balanced" },
        { "$.thresholds.default = 'nope'", "thresholds.default" },
        { "$.classes = ['only']", "classes" },
        { "$.input.width = 0", "input.width" },
        { "$.input.normalization.std = [1, 0, 1]", "input.normalization.std[1]" },
        { "$.input.normalization.mean = [0, 0]", "input.normalization.mean" },
        { "$.schemaVersion = 7", "schemaVersion" },
        { "$.stages = []", "stages" },
        { "$.stages[0].file = '../escape.onnx'", "stages[0].file" },
        { "$.accuracy = {'exits': [0.5]}", "accuracy.exits" },
        { "$.thresholds.refineRule = 'mean'", "thresholds.refineRule" },
        { "$.baseline = {'file': 'baseline.onnx', 'input': 'image', 'logitsOutput': 'logits'}", "baseline.file" },
        { "$.baseline = {'file': '../stage1.onnx', 'input': 'image', 'logitsOutput': 'logits'}", "baseline.file" },
        { "$.baseline = {'file': 'stage1.onnx', 'input': '', 'logitsOutput': 'logits'}", "baseline.input" },
    };

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void BadManifest_FailsNamingTheField(string edit, string field)
    {
        Corrupt(edit);
        var ex = Assert.Throws<ManifestException>(() => ManifestLoader.LoadFolder(_folder));
        Assert.Equal(field, ex.Field);
        Assert.Contains(field, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownProperty_IsRejected()
    {
        var path = Path.Combine(_folder, ModelManifest.FileName);
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        json["thresholdz"] = 1;
        File.WriteAllText(path, json.ToJsonString());
        var ex = Assert.Throws<ManifestException>(() => ManifestLoader.LoadFolder(_folder));
        Assert.Contains("thresholdz", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingManifest_IsReported()
    {
        File.Delete(Path.Combine(_folder, ModelManifest.FileName));
        var ex = Assert.Throws<ManifestException>(() => ManifestLoader.LoadFolder(_folder));
        Assert.Contains("no manifest.json", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedJson_IsReported()
    {
        File.WriteAllText(Path.Combine(_folder, ModelManifest.FileName), "{ \"schemaVersion\": 1, \"classes\": [ ");
        Assert.Throws<ManifestException>(() => ManifestLoader.LoadFolder(_folder));
    }

    /// <summary>Applies "$.a.b[1] = value" (value in JSON with single quotes) to the manifest file.</summary>
    private void Corrupt(string edit)
    {
        var path = Path.Combine(_folder, ModelManifest.FileName);
        var root = JsonNode.Parse(File.ReadAllText(path))!;
        var (target, value) = (edit[..edit.IndexOf(" = ", StringComparison.Ordinal)], edit[(edit.IndexOf(" = ", StringComparison.Ordinal) + 3)..]);
        var parts = target[2..].Replace("]", "", StringComparison.Ordinal).Split('.', '[');
        JsonNode node = root;
        for (var i = 0; i < parts.Length - 1; i++)
        {
            node = int.TryParse(parts[i], out var idx) ? node[idx]! : node[parts[i]]!;
        }

        var newValue = JsonNode.Parse(value.Replace('\'', '"'));
        var last = parts[^1];
        if (int.TryParse(last, out var index))
        {
            node[index] = newValue;
        }
        else
        {
            node[last] = newValue;
        }

        File.WriteAllText(path, root.ToJsonString());
    }
}
