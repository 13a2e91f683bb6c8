using System.Diagnostics;
using DfbNet.Core.Onnx;
using DfbNet.Runtime.Tests;
using DfbNet.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace DfbNet.Cli.Tests;

/// <summary>A real DfbNet server on a loopback port (in-process, tiny synthetic model "tiny"), and a folder of CIFAR
/// test images written as PNG files, shared by the tests of a class.</summary>
public sealed class CliServer : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "dfbnet-cli-server-" + Guid.NewGuid().ToString("N"));
    private WebApplication _app = null!;

    public string Address { get; private set; } = null!;

    /// <summary>The folder of the server's model "tiny", for runs that load it themselves.</summary>
    public string TinyModel => Path.Combine(_root, "models", "tiny");

    /// <summary>img0.png .. img5.png: CIFAR test images 0..5.</summary>
    public string Images => Path.Combine(_root, "photos");

    public const int ImageCount = 6;

    public string Image(int index) => Path.Combine(Images, $"img{index}.png");

    public async Task InitializeAsync()
    {
        SyntheticModelFolder.Write(TinyModel, new SyntheticDfbNetOptions { InputSize = 32, Seed = 7 });
        Directory.CreateDirectory(Images);
        for (var i = 0; i < ImageCount; i++)
        {
            await File.WriteAllBytesAsync(Image(i), ImageEncoding.EncodePng(CifarSlice.Hwc(i), 32, 32));
        }

        _app = ServerApplication.Build(
        [
            "--urls", "http://127.0.0.1:0",
            $"--DfbNet:ModelRoot={Path.Combine(_root, "models")}",
            "--DfbNet:DefaultModel=tiny",
            "--DfbNet:IntraOpThreads=1",
            "--DfbNet:WarmupRuns=1",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await _app.StartAsync();
        Address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }
}

/// <summary>Runs the built dfbnet executable as a user would (<c>dotnet dfbnet.dll ...</c>).</summary>
internal static class CliProcess
{
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var start = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "dfbnet.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        foreach (var inherited in new[] { "DFBNET_SERVER", "DFBNET_API_KEY", "DFBNET_CA_CERT", "DFBNET_CLIENT_CERT", "DFBNET_CLIENT_KEY" })
        {
            start.Environment.Remove(inherited);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args) => RunAsync(args, null);

    /// <summary>ffmpeg on the PATH, or null.</summary>
    public static string? Ffmpeg() => (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(d => Path.Combine(d, "ffmpeg"))
        .FirstOrDefault(File.Exists);

    /// <summary>Writes a one-second 10 fps test-pattern video with ffmpeg.</summary>
    public static async Task WriteTestVideoAsync(string ffmpeg, string path)
    {
        var start = new ProcessStartInfo(ffmpeg) { RedirectStandardError = true };
        foreach (var a in new[] { "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-t", "1", "-pix_fmt", "yuv420p", path })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await errors);
    }
}
