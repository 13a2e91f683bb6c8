using System.Diagnostics;

namespace DfbNet.Cli.Tests;

/// <summary><c>dfbnet stream</c> on live sources through ffmpeg (its lavfi test source piped to stdin, and served over
/// HTTP and as an RTSP camera on loopback), <c>--latest</c>, and the summary on Ctrl+C (SIGINT); and the CLI's usage errors.</summary>
public sealed class LiveStreamCommandTests(CliServer server) : IClassFixture<CliServer>
{
    private static string Dfbnet => $"\"{(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")}\" \"{Path.Combine(AppContext.BaseDirectory, "dfbnet.dll")}\"";

    private static string TestSource(string options) =>
        $"ffmpeg -hide_banner -loglevel error {options} -f lavfi -i testsrc=size=64x64:rate=25 -c:v rawvideo -f nut -";

    [Fact]
    public async Task Stream_FromStdin_EveryFrameReadIsAnsweredOrCounted()
    {
        var (code, stdout, stderr) = await Bash($"{TestSource("-t 2")} | {Dfbnet} stream - --server {server.Address} --quiet");
        Assert.True(code == 0, stderr);
        Assert.Contains("frames: 50 read, 50 sent, 50 answered, 0 dropped", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_LiveHttpSource_WithLatest_DropsWhatIsStale_AndSaysSo()
    {
        // ffmpeg serves its test source over HTTP on loopback, in real time; the CLI reads it as a camera would.
        var port = DfbNet.Testing.LoopbackPort.Free();
        var (code, stdout, stderr) = await Bash(
            $"ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc=size=64x64:rate=25 -t 3 -c:v mpeg2video -f mpegts -listen 1 http://127.0.0.1:{port} & sleep 1; " +
            $"{Dfbnet} stream http://127.0.0.1:{port} --server {server.Address} --quiet --latest --max-in-flight 1; wait");
        Assert.True(code == 0, stderr + stdout);
        var summary = stdout.Split('\n').First(l => l.StartsWith("frames: ", StringComparison.Ordinal));
        var read = int.Parse(summary.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(read, 40, 80);
        Assert.Contains("dropped", summary, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_RtspCamera_OverTcp_EveryFrameReadIsAnswered()
    {
        // An RTSP camera on loopback: 3 s of ffmpeg's test source at 25 fps, sent in real time as RTP over the RTSP
        // connection, which is what the CLI asks a camera for.
        await using var camera = new LoopbackRtspServer("-re -f lavfi -i testsrc=size=64x64:rate=25 -t 3 -c:v mpeg2video");
        var (code, stdout, stderr) = await Bash($"{Dfbnet} stream {camera.Url} --server {server.Address} --quiet");
        Assert.True(code == 0, stderr + stdout);
        Assert.Equal(["OPTIONS", "DESCRIBE", "SETUP", "PLAY"], camera.Methods.Take(4));
        Assert.True(camera.PacketsSent > 0);
        var summary = stdout.Split('\n').First(l => l.StartsWith("frames: ", StringComparison.Ordinal));
        var read = int.Parse(summary.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(read, 50, 80);
        Assert.Contains($"frames: {read} read, {read} sent, {read} answered, 0 dropped", summary, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_CtrlC_PrintsTheSummary_ExitCode130()
    {
        // ffmpeg's real-time test source into the CLI's stdin; SIGINT to the CLI as Ctrl+C sends it. (Started from .NET,
        // not from a shell's background job, which would start it with SIGINT ignored.)
        var source = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, ArgumentList = { "-c", TestSource("-re -t 60") } };
        var cli = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "dfbnet.dll"), "stream", "-", "--server", server.Address },
        };
        using var ffmpeg = Process.Start(source)!;
        using var dfbnet = new Process { StartInfo = cli };
        var output = new System.Text.StringBuilder();
        var errors = new System.Text.StringBuilder();
        var streaming = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        dfbnet.OutputDataReceived += (_, e) =>
        {
            lock (output)
            {
                output.AppendLine(e.Data);
            }

            streaming.TrySetResult();
        };
        dfbnet.ErrorDataReceived += (_, e) =>
        {
            lock (errors)
            {
                errors.AppendLine(e.Data);
            }
        };
        dfbnet.Start();
        dfbnet.BeginOutputReadLine();
        dfbnet.BeginErrorReadLine();
        var pipe = ffmpeg.StandardOutput.BaseStream.CopyToAsync(dfbnet.StandardInput.BaseStream);
        string Said()
        {
            lock (output)
            {
                lock (errors)
                {
                    return $"stdout: {output}\nstderr: {errors}";
                }
            }
        }

        try
        {
            // Ctrl+C once frames are answered (the first event line), however long the start takes on a loaded machine.
            await streaming.Task.WaitAsync(TimeSpan.FromSeconds(60));
            await Task.Delay(TimeSpan.FromSeconds(1));
            using (var kill = Process.Start("kill", ["-INT", dfbnet.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            var exited = await dfbnet.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default);
            Assert.True(exited, $"dfbnet stream did not end within 30 s of SIGINT; {Said()}");
        }
        finally
        {
            ffmpeg.Kill(entireProcessTree: true);
            dfbnet.Kill(entireProcessTree: true);
            await pipe.ContinueWith(_ => { }, TaskScheduler.Default);
        }

        Assert.True(dfbnet.ExitCode == 130, $"exit {dfbnet.ExitCode}; {Said()}");
        var text = Said();
        Assert.Contains("frames: ", text, StringComparison.Ordinal);
        Assert.Contains("client round trip:", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("classify x.png --jsno", "dfbnet classify: unknown option '--jsno'.")]
    [InlineData("classify --bogus", "dfbnet classify: unknown option '--bogus'.")]
    [InlineData("eval --data /nonexistent", "dfbnet eval: Option '--model' is required.")]
    [InlineData("train --preset huge --data /nonexistent --out /tmp/x", "dfbnet train: --preset: Unknown preset 'huge'; expected paper, edge or tiny.")]
    [InlineData("export --checkpoint /nonexistent --out /tmp/y", "dfbnet export: No checkpoint.json in /nonexistent")]
    [InlineData("eval --model /nonexistent --data /nonexistent", "dfbnet eval: ")]
    [InlineData("stream", "dfbnet stream: Required argument missing")]
    [InlineData("train --resume --data /nonexistent --out /nonexistent/run", "dfbnet train: --resume: /nonexistent/run holds no checkpoint.json to resume")]
    public async Task UsageMistakes_OneLine_NoStackTrace_ExitCode2(string arguments, string message)
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync(arguments.Split(' '));
        Assert.Equal(2, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(message, line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr + stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Classify_AnErrorEveryFileShares_IsSaidOnce()
    {
        var (code, _, stderr) = await CliProcess.RunAsync(["classify", server.Images, "--server", server.Address, "--preset", "turbo"]);
        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("turbo", line, StringComparison.Ordinal);
        Assert.Contains($"({CliServer.ImageCount} files: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_FfmpegSetToAMissingFile_SaysSo()
    {
        var (code, _, stderr) = await CliProcess.RunAsync(["stream", "-", "--server", server.Address], new Dictionary<string, string> { ["DFBNET_FFMPEG"] = "/nonexistent/ffmpeg" });
        Assert.Equal(2, code);
        Assert.Contains("DFBNET_FFMPEG '/nonexistent/ffmpeg' does not exist", stderr, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Stdout, string Stderr)> Bash(string script)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        start.Environment.Remove("DFBNET_SERVER");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        return (process.ExitCode, await stdout, await stderr);
    }
}
