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
    internal static async Task<(int ExitCode, string Output)> RunCli(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "dfbnet.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
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
