using System.Globalization;
using System.Text.RegularExpressions;
using DfbNet.Core.Manifest;
using DfbNet.Core.Onnx;
using DfbNet.Runtime.Tests;

namespace DfbNet.Cli.Tests;

/// <summary><c>dfbnet calibrate</c> end to end: a built model, and CIFAR-10 files made of the committed 200-image slice.</summary>
public sealed partial class CalibrateCommandTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "dfbnet-calibrate-" + Guid.NewGuid().ToString("N"));

    public CalibrateCommandTests()
    {
        SyntheticModelFolder.Write(Path.Combine(_root, "model"), new SyntheticDfbNetOptions { InputSize = 32, Seed = 7 });
        var cifar = Path.Combine(_root, "data", "cifar-10");
        Directory.CreateDirectory(cifar);
        foreach (var name in Enumerable.Range(1, 5).Select(i => $"data_batch_{i}.bin").Append("test_batch.bin"))
        {
            File.Copy(CifarSlice.FilePath, Path.Combine(cifar, name));
        }
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("time", "ms per image expected")]
    [InlineData("macs", "M MACs per image")]
    public async Task Calibrate_WritesThreePresets_TheDefaultAtLeastAsAccurateAsTheMainBranchOnValidation(string cost, string speedUnit)
    {
        var model = Path.Combine(_root, "model");
        var (code, output) = await SynthCommandTests.RunCli("calibrate", "--model", model, "--data", Path.Combine(_root, "data"), "--validation", "300", "--seed", "3", "--cost", cost, "--timing-images", "40");
        Assert.True(code == 0, output);
        Assert.Equal(cost == "time", output.Contains("ms per image leaving at exit 1..3", StringComparison.Ordinal));

        var main = double.Parse(MainAccuracy().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var presets = PresetLine().Matches(output).ToDictionary(m => m.Groups[1].Value, m => double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
        Assert.Equal(["accurate", "balanced", "fast"], presets.Keys.Order());
        Assert.True(presets["balanced"] >= main, output);
        Assert.True(presets["accurate"] >= presets["balanced"], output);
        Assert.True(presets["fast"] >= main - 1.0 - 1e-9, output);
        Assert.Contains(speedUnit, output, StringComparison.Ordinal);

        var manifest = ManifestLoader.LoadFolder(model);
        Assert.Equal("balanced", manifest.Thresholds.Default);
        Assert.All(presets.Keys, p => Assert.Equal(3, manifest.Thresholds.Presets[p].Length));
        Assert.True(manifest.Accuracy?.Presets?.ContainsKey("balanced"));
    }

    [GeneratedRegex(@"main branch alone ([0-9.]+)% accurate")]
    private static partial Regex MainAccuracy();

    [GeneratedRegex(@"^  (fast|balanced|accurate) +\([^)]*\): validation accuracy ([0-9.]+)%", RegexOptions.Multiline)]
    private static partial Regex PresetLine();
}
