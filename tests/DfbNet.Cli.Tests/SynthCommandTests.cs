using System.Diagnostics;
using DfbNet.Core.Manifest;
using DfbNet.Runtime;

namespace DfbNet.Cli.Tests;

public sealed class SynthCommandTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "dfbnet-cli-" + Guid.NewGuid().ToString("N"), "m");

    public void Dispose()
    {
        if (Directory.Exists(Path.GetDirectoryName(_folder)))
        {
            Directory.Delete(Path.GetDirectoryName(_folder)!, recursive: true);
        }
    }

    [Fact]
    public async Task Synth_WritesAServableUntrainedModel()
    {
        var (code, output) = await RunCli("synth", "--out", _folder, "--seed", "5", "--size", "24", "--widths", "4,6,8,8");
        Assert.Equal(0, code);
        Assert.Contains("untrained", output, StringComparison.Ordinal);

        var manifest = ManifestLoader.LoadFolder(_folder);
        Assert.True(manifest.Untrained);
        Assert.Equal(4, manifest.Stages.Count);
        Assert.Equal(24, manifest.Input.Width);

        using var engine = EarlyExitEngine.Load(_folder, new EngineOptions { WarmupRuns = 1 });
        Assert.Equal(4, engine.ExitCount);
    }

    [Fact]
    public async Task Synth_Preset_WritesTheTrainingArchitecture_WithZeroWeightsThatCompress()
    {
        var (code, output) = await RunCli("synth", "--out", _folder, "--preset", "tiny", "--zero-weights");
        Assert.True(code == 0, output);
        var manifest = ManifestLoader.LoadFolder(_folder);
        Assert.True(manifest.Untrained);
        Assert.Contains("UNTRAINED DFB-Net 'tiny'", manifest.Description, StringComparison.Ordinal);
        Assert.Contains("all weights zero", manifest.Description, StringComparison.Ordinal);
        Assert.Equal(3, manifest.Stages.Count);
        Assert.Equal("main", manifest.Thresholds.Default);

        // Every weight zero: the stage files are almost all zero bytes, and every exit is uniform.
        foreach (var stage in manifest.Stages)
        {
            var bytes = File.ReadAllBytes(Path.Combine(_folder, stage.File));
            Assert.True(bytes.Count(b => b == 0) > 0.9 * bytes.Length, stage.File);
        }

        using var engine = EarlyExitEngine.Load(_folder, new EngineOptions { WarmupRuns = 1 });
        var image = Runtime.Preprocessing.ImageSource.Raw(new byte[manifest.Input.Width * manifest.Input.Height * 3], manifest.Input.Width, manifest.Input.Height);
        await foreach (var e in engine.ClassifyAsync(new FrameRequest("z", image, engine.DefaultPolicy, Core.InferenceMode.Full, null, 0)))
        {
            Assert.All(e.Prediction!.Probabilities, p => Assert.Equal(0.1f, p, 5));
        }
    }

    [Fact]
    public async Task Synth_Preset_RefusesShapeOptions_AndZeroWeightsNeedAPreset()
    {
        var (code, output) = await RunCli("synth", "--out", _folder, "--preset", "tiny", "--widths", "4,8");
        Assert.Equal(2, code);
        Assert.Contains("leave out --size and --widths", output, StringComparison.Ordinal);

        (code, output) = await RunCli("synth", "--out", _folder, "--zero-weights");
        Assert.Equal(2, code);
        Assert.Contains("--zero-weights needs --preset", output, StringComparison.Ordinal);

        (code, output) = await RunCli("synth", "--out", _folder, "--preset", "huge");
        Assert.Equal(2, code);
        Assert.Contains("expected paper, edge or tiny", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Synth_Preset_WithoutLibTorch_SaysSo_WithoutAStackTrace()
    {
        var empty = Path.Combine(Path.GetDirectoryName(_folder)!, "no-libtorch");
        Directory.CreateDirectory(empty);
        var (code, output) = await RunCli(new Dictionary<string, string> { ["DFBNET_LIBTORCH"] = empty }, "synth", "--out", _folder, "--preset", "tiny");
        Assert.Equal(3, code);
        Assert.Contains("dfbnet: TorchSharp's native libraries could not be loaded: libtorch library libc10.so not found in " + empty, output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Synth_WithoutOut_FailsWithUsage()
    {
        var (code, output) = await RunCli("synth");
        Assert.NotEqual(0, code);
        Assert.Contains("--out", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Synth_BadSize_FailsWithMessage()
    {
        var (code, output) = await RunCli("synth", "--out", _folder, "--size", "10");
        Assert.NotEqual(0, code);
        Assert.Equal(2, code);
        Assert.StartsWith("dfbnet synth: ", output, StringComparison.Ordinal);
        Assert.Contains("16", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    /// <summary>Runs the built dfbnet executable as a user would.</summary>
    internal static Task<(int ExitCode, string Output)> RunCli(params string[] args) => RunCli(new Dictionary<string, string>(), args);

    /// <summary>Runs the built dfbnet executable with extra environment variables.</summary>
    internal static async Task<(int ExitCode, string Output)> RunCli(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "dfbnet.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
