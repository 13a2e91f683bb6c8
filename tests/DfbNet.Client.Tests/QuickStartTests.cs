using DfbNet.Runtime.Tests;

namespace DfbNet.Client.Tests;

public sealed class QuickStartTests
{
    [Fact]
    public async Task QuickStart_RunsAgainstARealServer()
    {
        await using var server = await LoopbackServer.StartAsync();
        var photo = Path.Combine(Path.GetTempPath(), $"dfbnet-{Guid.NewGuid():N}.png");
        await File.WriteAllBytesAsync(photo, ImageEncoding.EncodePng(CifarSlice.Hwc(5), 32, 32));
        try
        {
            using var output = new StringWriter();
            await MyApp.QuickStart.RunAsync(server.Address, photo, output);
            var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Equal("model tiny: 3 exits", lines[0]);
            Assert.Matches(@"^answer: \w+ [01]\.\d{3} \((EarlyExit|Fused) at exit \d, \d events\)$", lines[1]);
            for (var i = 0; i < 3; i++)
            {
                Assert.Single(lines, l => l.StartsWith($"frame-{i} exit 0 Fused final after ", StringComparison.Ordinal));
            }
        }
        finally
        {
            File.Delete(photo);
        }
    }

    [Fact]
    public void Docs_ShowTheQuickStartAsItIs()
    {
        var root = RepositoryRoot();
        var source = File.ReadAllText(Path.Combine(root, "tests", "DfbNet.Client.Tests", "QuickStart.cs")).ReplaceLineEndings("\n");
        var start = source.IndexOf("// <quickstart>\n", StringComparison.Ordinal) + "// <quickstart>\n".Length;
        var snippet = source[start..source.IndexOf("// </quickstart>", StringComparison.Ordinal)].TrimEnd();
        var docs = File.ReadAllText(Path.Combine(root, "docs", "SDK.md")).ReplaceLineEndings("\n");
        Assert.True(docs.Contains("```csharp\n" + snippet + "\n```", StringComparison.Ordinal), "docs/SDK.md must show tests/DfbNet.Client.Tests/QuickStart.cs (between the quickstart markers) verbatim in a ```csharp block.");
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "DfbNet.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("DfbNet.sln not found above " + AppContext.BaseDirectory);
    }
}
