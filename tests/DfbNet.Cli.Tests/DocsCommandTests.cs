namespace DfbNet.Cli.Tests;

/// <summary>Runs the commands of docs/CLI.md's quick start, so that the page stays true.</summary>
public sealed class DocsCommandTests(CliServer server) : IClassFixture<CliServer>
{
    [Fact]
    public async Task Docs_QuickStartCommandsRunAsShown()
    {
        var docs = await File.ReadAllLinesAsync(Path.Combine(RepositoryRoot(), "docs", "CLI.md"));
        var commands = docs.Where(l => l.StartsWith("$ dfbnet ", StringComparison.Ordinal)).ToList();
        Assert.True(commands.Count >= 4, "docs/CLI.md lost its quick start commands");

        var ffmpeg = CliProcess.Ffmpeg();
        var video = Path.Combine(Path.GetTempPath(), $"dfbnet-docs-{Guid.NewGuid():N}.mp4");
        if (ffmpeg is not null)
        {
            await CliProcess.WriteTestVideoAsync(ffmpeg, video);
        }
        else
        {
            await File.WriteAllBytesAsync(video, [0, 0, 0, 0x18]);
        }

        try
        {
            foreach (var command in commands)
            {
                var args = command["$ dfbnet ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Select(a => a == "http://localhost:50051" ? server.Address
                        : a.StartsWith("photos/", StringComparison.Ordinal) ? Path.Combine(server.Images, a["photos/".Length..])
                        : a == "clip.mp4" ? video
                        : a)
                    .ToArray();
                var (code, stdout, stderr) = await CliProcess.RunAsync(args);
                if (command.Contains("clip.mp4", StringComparison.Ordinal) && ffmpeg is null)
                {
                    Assert.Equal(2, code);
                    Assert.Contains("needs ffmpeg", stderr, StringComparison.Ordinal);
                    continue;
                }

                Assert.True(code == 0, $"{command}\n{stdout}\n{stderr}");
                Assert.False(string.IsNullOrWhiteSpace(stdout), command);
                if (args[0] == "stream")
                {
                    Assert.Contains("answered at: exit 1 ", stdout, StringComparison.Ordinal);
                }
            }
        }
        finally
        {
            File.Delete(video);
        }
    }

    [Fact]
    public void Docs_BringYourOwnModel_AnnotatedManifestLoads()
    {
        var docs = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "BRING-YOUR-OWN-MODEL.md"));
        const string fence = "```jsonc\n";
        var start = docs.IndexOf(fence, StringComparison.Ordinal) + fence.Length;
        Assert.True(start >= fence.Length, "docs/BRING-YOUR-OWN-MODEL.md lost its annotated manifest");
        var folder = Path.Combine(Path.GetTempPath(), "dfbnet-docs-manifest-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            File.WriteAllText(Path.Combine(folder, Core.Manifest.ModelManifest.FileName), docs[start..docs.IndexOf("```", start, StringComparison.Ordinal)]);
            foreach (var file in new[] { "stage1.onnx", "stage2.onnx", "stage3.onnx", "baseline.onnx" })
            {
                File.WriteAllBytes(Path.Combine(folder, file), []);
            }

            var manifest = Core.Manifest.ManifestLoader.LoadFolder(folder);
            Assert.Equal(["image", "feature1", "feature2"], manifest.Stages.Select(s => s.Input));
            Assert.Equal(Core.Manifest.DefaultPresets.Create(3).Presets, manifest.Thresholds.Presets);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string RepositoryRoot()
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
