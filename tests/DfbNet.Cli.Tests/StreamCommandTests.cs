using System.Globalization;
using System.Text.RegularExpressions;
using DfbNet.Client;
using DfbNet.Protocol.V1;
using DfbNet.Testing;

namespace DfbNet.Cli.Tests;

public sealed partial class StreamCommandTests(CliServer server) : IClassFixture<CliServer>
{
    [Fact]
    public async Task Stream_Folder_PrintsEveryEventLiveAndASummaryThatAddsUp()
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync("stream", server.Images, "--server", server.Address);
        Assert.True(code == 0, stderr);

        // Every image has exactly one final line, carrying the server's answer.
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = new Uri(server.Address) });
        var answeredAt = new int[4];
        for (var i = 0; i < CliServer.ImageCount; i++)
        {
            var answer = (await client.ClassifyAsync(await ImageInput.FromFileAsync(server.Image(i)))).Wire.Answer;
            answeredAt[answer.Kind == ExitKind.EarlyExit ? answer.Exit : 0]++;
            var final = Assert.Single(stdout.Split('\n'), l => l.StartsWith($"img{i}.png ", StringComparison.Ordinal) && l.Contains("final", StringComparison.Ordinal));
            Assert.Contains($"{answer.Prediction.ClassName} {answer.Prediction.Confidence.ToString("0.000", CultureInfo.InvariantCulture)}", final, StringComparison.Ordinal);
        }

        Assert.Contains("frames: 6 read, 6 sent, 6 answered, 0 dropped", stdout, StringComparison.Ordinal);
        for (var k = 1; k <= 3; k++)
        {
            Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"exit {k} {100.0 * answeredAt[k] / 6:0.0}% ({answeredAt[k]})"), stdout, StringComparison.Ordinal);
        }

        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"fused {100.0 * answeredAt[0] / 6:0.0}% ({answeredAt[0]})"), stdout, StringComparison.Ordinal);
        var server50 = double.Parse(Percentile().Match(stdout[stdout.IndexOf("server time", StringComparison.Ordinal)..]).Groups[1].Value, CultureInfo.InvariantCulture);
        var client50 = double.Parse(Percentile().Match(stdout[stdout.IndexOf("client round trip", StringComparison.Ordinal)..]).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(server50 > 0 && client50 >= server50, stdout);
    }

    [Fact]
    public async Task Stream_FastFpsWithOneInFlight_DropsFramesAndCountsThem()
    {
        // 6 frames due within 6 ms while each takes longer than that end to end: some are dropped, never more than 5.
        var (code, stdout, stderr) = await CliProcess.RunAsync("stream", server.Images, "--server", server.Address, "--fps", "1000", "--max-in-flight", "1");
        Assert.True(code == 0, stderr);
        var match = Regex.Match(stdout, @"frames: 6 read, (\d+) sent, (\d+) answered, (\d+) dropped \((\d+) not sent");
        Assert.True(match.Success, stdout);
        var sent = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var dropped = int.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture);
        Assert.Equal(sent, int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture));
        Assert.Equal(6, sent + dropped);
        Assert.InRange(dropped, 1, 5);
        Assert.Equal(dropped, Regex.Count(stdout, "dropped: 1 frames still in flight"));
    }

    [Fact]
    public async Task Stream_VideoWithoutFfmpeg_SaysHowToGetIt()
    {
        var video = Path.Combine(server.Images, "..", "clip.mp4");
        await File.WriteAllBytesAsync(video, [0, 0, 0, 0x18]);
        var (code, stdout, stderr) = await CliProcess.RunAsync(["stream", video, "--server", server.Address], new Dictionary<string, string> { ["PATH"] = "/nonexistent", ["DFBNET_FFMPEG"] = "" });
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Contains("is a video, and decoding it needs ffmpeg, which is not on the PATH", stderr, StringComparison.Ordinal);
        Assert.Contains("apt-get install ffmpeg", stderr, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Stream_Video_IsDecodedByFfmpegFrameByFrame()
    {
        var ffmpeg = CliProcess.Ffmpeg();
        Skip.If(ffmpeg is null, "ffmpeg is not installed");
        var video = Path.Combine(Path.GetTempPath(), $"dfbnet-{Guid.NewGuid():N}.mp4");
        await CliProcess.WriteTestVideoAsync(ffmpeg!, video);
        try
        {
            var (code, stdout, stderr) = await CliProcess.RunAsync("stream", video, "--server", server.Address, "--mode", "full");
            Assert.True(code == 0, stderr);
            Assert.Contains("frames: 10 read, 10 sent, 10 answered, 0 dropped", stdout, StringComparison.Ordinal);
            var answeredAt = Regex.Match(stdout, @"answered at: (.*)").Groups[1].Value;
            Assert.Equal(10, Regex.Matches(answeredAt, @"\((\d+)\)").Sum(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)));
            for (var i = 0; i < 10; i++)
            {
                Assert.Single(stdout.Split('\n'), l => l.StartsWith($"frame-{i:D6}  ", StringComparison.Ordinal) && l.Contains("final", StringComparison.Ordinal));
            }
        }
        finally
        {
            File.Delete(video);
        }
    }

    [Fact]
    public async Task Stream_UnsupportedFileOrUnreachableServer_ClearErrors()
    {
        var (code, _, stderr) = await CliProcess.RunAsync("stream", Path.Combine(server.Images, "missing"), "--server", server.Address);
        Assert.Equal(2, code);
        Assert.Contains("does not exist", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await CliProcess.RunAsync("stream", server.Images, "--server", $"http://127.0.0.1:{LoopbackPort.Free()}");
        Assert.Equal(1, code);
        Assert.StartsWith("dfbnet stream: cannot reach the DfbNet server", stderr, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"p50 ([0-9.]+) ms")]
    private static partial Regex Percentile();
}
