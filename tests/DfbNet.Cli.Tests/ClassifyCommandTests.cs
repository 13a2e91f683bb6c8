using System.Globalization;
using System.Text.Json;
using DfbNet.Client;
using DfbNet.Protocol.V1;
using DfbNet.Testing;

namespace DfbNet.Cli.Tests;

public sealed class ClassifyCommandTests(CliServer server) : IClassFixture<CliServer>
{
    [Fact]
    public async Task Classify_Folder_PrintsATableRowPerImageWithTheServersAnswer()
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync("classify", server.Images, "--server", server.Address);
        Assert.True(code == 0, stderr);

        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["FILE", "CLASS", "CONFIDENCE", "EXIT", "SERVER_MS"], Cells(lines[0]));
        Assert.Equal(CliServer.ImageCount + 1, lines.Length);
        var expected = await ExpectedAsync(null);
        for (var i = 0; i < CliServer.ImageCount; i++)
        {
            var cells = Cells(lines[i + 1]);
            var answer = expected[i].Answer;
            Assert.Equal(server.Image(i), cells[0]);
            Assert.Equal(answer.Prediction.ClassName, cells[1]);
            Assert.Equal(answer.Prediction.Confidence.ToString("0.0000", CultureInfo.InvariantCulture), cells[2]);
            var early = expected[i].Events.FirstOrDefault(e => e.Kind == ExitKind.EarlyExit);
            Assert.Equal(early is null ? "fused" : $"exit {early.Exit}", cells[3]);
            Assert.InRange(double.Parse(cells[4], CultureInfo.InvariantCulture), 0.001, 10_000);
        }
    }

    [Fact]
    public async Task Classify_Json_RefineMode_GivesEveryEventOfEveryFile()
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync("classify", server.Image(0), server.Image(1), "--server", server.Address, "--json", "--mode", "refine", "--preset", "fast");
        Assert.True(code == 0, stderr);

        using var json = JsonDocument.Parse(stdout);
        var files = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(2, files.Count);
        var expected = await ExpectedAsync(new RequestOptions { Mode = InferenceMode.Refine, Preset = "fast" });
        for (var i = 0; i < 2; i++)
        {
            var file = files[i];
            var answer = expected[i].Answer;
            Assert.Equal(server.Image(i), file.GetProperty("file").GetString());
            Assert.Equal("tiny", file.GetProperty("model").GetString());
            Assert.Equal(answer.Prediction.ClassName, file.GetProperty("class").GetString());
            Assert.Equal(answer.Prediction.ClassIndex, file.GetProperty("classIndex").GetInt32());
            Assert.Equal(answer.Prediction.Confidence, file.GetProperty("confidence").GetSingle(), 5);
            Assert.Equal("FUSED", file.GetProperty("kind").GetString());
            Assert.Equal(0, file.GetProperty("exit").GetInt32());
            var events = file.GetProperty("events").EnumerateArray().ToList();
            Assert.Equal([1, 2, 3, 0], events.Select(e => e.GetProperty("exit").GetInt32()));
            Assert.Equal(expected[i].Events.Select(e => e.Prediction.ClassName), events.Select(e => e.GetProperty("class").GetString()));
            Assert.Equal([false, false, false, true], events.Select(e => e.GetProperty("final").GetBoolean()));
            var early = Assert.Single(events, e => e.GetProperty("kind").GetString() == "EARLY_EXIT");

            // Named as dfbnet stream counts it: the first confident exit, though the final event is the refined one.
            Assert.Equal($"exit {early.GetProperty("exit").GetInt32()}", file.GetProperty("answeredAt").GetString());
        }
    }

    [Fact]
    public async Task Classify_UnreachableServer_SaysSoAndFails()
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync("classify", server.Image(0), "--server", $"http://127.0.0.1:{LoopbackPort.Free()}");
        Assert.Equal(1, code);
        Assert.StartsWith("dfbnet classify: cannot reach the DfbNet server at http://127.0.0.1:", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.Equal("", stdout);
    }

    [Fact]
    public async Task Classify_MissingPathOrUnsupportedFile_FailsWithUsageCode()
    {
        var missing = Path.Combine(server.Images, "nope.png");
        var (code, _, stderr) = await CliProcess.RunAsync("classify", missing, "--server", server.Address);
        Assert.Equal(2, code);
        Assert.Equal($"dfbnet classify: '{missing}' does not exist.", stderr.Trim());

        var text = Path.Combine(Path.GetTempPath(), $"dfbnet-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(text, "not an image");
        try
        {
            (code, _, stderr) = await CliProcess.RunAsync("classify", text, "--server", server.Address);
            Assert.Equal(2, code);
            Assert.Contains("is not a supported image; expected .png, .jpg, .jpeg", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(text);
        }
    }

    [Fact]
    public async Task Classify_CorruptImage_RowSaysErrorAndOthersStillAnswer()
    {
        var folder = Path.Combine(Path.GetTempPath(), "dfbnet-corrupt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            File.Copy(server.Image(0), Path.Combine(folder, "a.png"));
            await File.WriteAllBytesAsync(Path.Combine(folder, "b.png"), [0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
            var (code, stdout, stderr) = await CliProcess.RunAsync("classify", folder, "--server", server.Address);
            Assert.Equal(1, code);
            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.NotEqual("ERROR", Cells(lines[1])[1]);
            Assert.Equal("ERROR", Cells(lines[2])[1]);
            Assert.Contains("b.png: InvalidArgument", stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The table's cells: columns are two or more spaces apart (a cell such as "exit 2" holds one).</summary>
    private static string[] Cells(string line) => System.Text.RegularExpressions.Regex.Split(line.Trim(), @"\s{2,}");

    private async Task<List<ClassifyResponse>> ExpectedAsync(RequestOptions? options)
    {
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = new Uri(server.Address) });
        var result = new List<ClassifyResponse>();
        for (var i = 0; i < CliServer.ImageCount; i++)
        {
            result.Add((await client.ClassifyAsync(await ImageInput.FromFileAsync(server.Image(i)), options)).Wire);
        }

        return result;
    }
}
