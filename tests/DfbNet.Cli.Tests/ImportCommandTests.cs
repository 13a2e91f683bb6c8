using System.Text.Json;
using DfbNet.Core;
using DfbNet.Core.Manifest;
using DfbNet.Core.Onnx;
using DfbNet.Core.Onnx.Proto;
using DfbNet.Runtime;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Runtime.Tests;
using DfbNet.Runtime.Tests.Onnx;
using DfbNet.Server.Tests;

namespace DfbNet.Cli.Tests;

public sealed class ImportCommandTests : IDisposable
{
    private readonly ForeignModel _foreign = new();

    public void Dispose() => _foreign.Dispose();

    private static readonly NormalizationSpec Normalization = SyntheticModelFolder.Cifar10Normalization();

    [Fact]
    public async Task Import_ForeignStages_WritesAValidatedFolderWhoseLogitsEqualTheOriginals()
    {
        var classes = _foreign.Path("classes.txt");
        await File.WriteAllLinesAsync(classes, SyntheticModelFolder.Cifar10Classes);
        var folder = _foreign.Path("imported");
        var (code, stdout, stderr) = await CliProcess.RunAsync(
        [
            "import", "--stages", string.Join(",", _foreign.Stages), "--classes", classes, .. NormalizationArgs(),
            "--baseline", _foreign.Baseline, "--out", folder,
        ]);
        Assert.True(code == 0, stderr);
        Assert.Contains($"dfbnet calibrate --model {folder} --data DATA", stdout, StringComparison.Ordinal);

        var manifest = ManifestLoader.LoadFolder(folder);
        Assert.Equal(SyntheticModelFolder.Cifar10Classes, manifest.Classes);
        Assert.Equal((32, 32), (manifest.Input.Width, manifest.Input.Height));
        Assert.Equal(Normalization.Mean, manifest.Input.Normalization.Mean);
        Assert.Equal(Normalization.Std, manifest.Input.Normalization.Std);
        Assert.Equal(1f / 255f, manifest.Input.Normalization.Scale);
        Assert.Equal(["stage1.onnx", "stage2.onnx", "stage3.onnx"], manifest.Stages.Select(s => s.File));
        Assert.Equal(["image", "feature1", "feature2"], manifest.Stages.Select(s => s.Input));
        Assert.Equal(["logits1", "logits2", "logits3"], manifest.Stages.Select(s => s.LogitsOutput));
        Assert.Equal(["feature1", "feature2", null], manifest.Stages.Select(s => s.FeatureOutput));
        Assert.Equal(_foreign.Manifest.Stages.Select(s => s.Parameters), manifest.Stages.Select(s => s.Parameters));
        Assert.All(manifest.Stages, s => Assert.Equal(0, s.Flops));
        Assert.Equal(DefaultPresets.Main, manifest.Thresholds.Default);
        Assert.Equal([1f, 1f, 0f], manifest.Thresholds.Presets[DefaultPresets.Main]);
        Assert.Equal([0.99f, 0.99f, 0.75f], manifest.Thresholds.Presets[DefaultPresets.Paper]);
        Assert.Equal(("baseline.onnx", ForeignModel.InputName, "output"), (manifest.Baseline!.File, manifest.Baseline.Input, manifest.Baseline.LogitsOutput));

        // The copy keeps the zero axis as a value of its own (the ONNX checker refuses an attribute without one).
        var concat = ModelProto.Parser.ParseFrom(await File.ReadAllBytesAsync(Path.Combine(folder, "stage3.onnx"))).Graph.Node.Single(n => n.OpType == "Concat");
        Assert.Equal((true, 0L), (concat.Attribute.Single().HasI, concat.Attribute.Single().I));

        // The same image batch through the reference stages and the imported ones: every logit and feature equal.
        var random = new Random(3);
        var reference = new TensorData(OrtTestRunner.RandomData(random, 2 * 3 * 32 * 32), [2, 3, 32, 32]);
        var imported = reference;
        for (var s = 0; s < manifest.Stages.Count; s++)
        {
            var (theirs, ours) = (_foreign.Manifest.Stages[s], manifest.Stages[s]);
            var expected = OrtTestRunner.Run(await File.ReadAllBytesAsync(Path.Combine(_foreign.Reference, theirs.File)), (theirs.Input, reference));
            var actual = OrtTestRunner.Run(await File.ReadAllBytesAsync(Path.Combine(folder, ours.File)), (ours.Input, imported));
            Assert.Equal(expected[theirs.LogitsOutput].Data, actual[ours.LogitsOutput].Data);
            if (theirs.FeatureOutput is not null)
            {
                Assert.Equal(expected[theirs.FeatureOutput].Data, actual[ours.FeatureOutput!].Data);
                (reference, imported) = (expected[theirs.FeatureOutput], actual[ours.FeatureOutput!]);
            }
        }
    }

    [Fact]
    public async Task ImportedModel_IsServedByTheRealServer_WithTheOriginalsAnswers()
    {
        var root = _foreign.Path("models");
        var folder = Path.Combine(root, "imported");
        var (code, _, stderr) = await CliProcess.RunAsync(
        [
            "import", .. _foreign.Stages.SelectMany(s => new[] { "--stage", s }), "--classes", string.Join(",", SyntheticModelFolder.Cifar10Classes),
            .. NormalizationArgs(), "--out", folder,
        ]);
        Assert.True(code == 0, stderr);

        var image = _foreign.Path("frame.png");
        var png = ImageEncoding.EncodePng(CifarSlice.Hwc(0), 32, 32);
        await File.WriteAllBytesAsync(image, png);
        await using var server = TestServer.Build(root, "--DfbNet:DefaultModel=imported");
        await server.StartAsync();
        (code, var stdout, stderr) = await CliProcess.RunAsync("classify", image, "--server", TestServer.GrpcAddress(server), "--json", "--mode", "full");
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var answer = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal("imported", answer.GetProperty("model").GetString());
        var served = answer.GetProperty("events").EnumerateArray().ToList();

        // Full mode runs every exit and fuses, whatever the presets: the reference model's events, exit by exit.
        using var engine = EarlyExitEngine.Load(_foreign.Reference, new EngineOptions { WarmupRuns = 0 });
        var expected = new List<ExitEvent>();
        await foreach (var e in engine.ClassifyAsync(new FrameRequest("frame", ImageSource.Encoded(png), engine.DefaultPolicy, InferenceMode.Full, null, 0)))
        {
            expected.Add(e);
        }

        Assert.Equal(expected.Select(e => e.Exit), served.Select(e => e.GetProperty("exit").GetInt32()));
        Assert.Equal(expected.Select(e => engine.Classes[e.Prediction!.ClassIndex]), served.Select(e => e.GetProperty("class").GetString()));
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Prediction!.Confidence, served[i].GetProperty("confidence").GetSingle(), 5);
        }

        await server.StopAsync();
    }

    [Fact]
    public async Task Import_OutputsShapesCannotTellApart_AsksForTheirName_AndUsesTheNameGiven()
    {
        string[] stages = ["--stages", string.Join(",", [_foreign.WriteStage1WithTwoFeatures(), .. _foreign.Stages.Skip(1)])];
        var folder = _foreign.Path("named");
        var (code, _, stderr) = await Import([.. stages, "--out", folder]);
        Assert.Equal(2, code);
        Assert.Equal("dfbnet import: stage 1 (" + _foreign.Path("part1-two-features.onnx") + "): outputs 'feat' [N, 8, 32, 32] and 'feat_copy' [N, 8, 32, 32] all have the shape stage 2 (" + _foreign.Stages[1] + ") takes; name the feature with --feature-output NAME (once for every stage but the last, or once per such stage in order)", stderr.TrimEnd());

        // Once per stage but the last: stage 1's copy, stage 2's own.
        (code, _, stderr) = await Import([.. stages, "--feature-output", "feat_copy", "--feature-output", ForeignModel.FeatureName, "--out", folder]);
        Assert.True(code == 0, stderr);
        Assert.Equal("feature1", ManifestLoader.LoadFolder(folder).Stages[0].FeatureOutput);

        (code, _, stderr) = await Import([.. stages, "--feature-output", "trunk", "--out", folder]);
        Assert.Equal(2, code);
        Assert.StartsWith("dfbnet import: --feature-output 'trunk': stage 1 (", stderr, StringComparison.Ordinal);
        Assert.Contains("has no such output (its outputs: 'feat' [N, 8, 32, 32], 'logits' [N, 10], 'feat_copy' [N, 8, 32, 32])", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Import_MissingFile_IsOneLineNamingIt()
    {
        var missing = _foreign.Path("part4.onnx");
        AssertOneLine(
            await Import(["--stages", $"{_foreign.Stages[0]},{missing}", "--out", _foreign.Path("out")]),
            $"dfbnet import: --stages '{missing}': no such file");
    }

    [Fact]
    public async Task Import_StagesThatDoNotChain_IsOneLineNamingBothAndTheShapes()
    {
        AssertOneLine(
            await Import(["--stage", _foreign.Stages[0], "--stage", _foreign.Stages[2], "--out", _foreign.Path("out")]),
            $"dfbnet import: stage 1 ({_foreign.Stages[0]}) and stage 2 ({_foreign.Stages[2]}) do not chain: stage 2 ({_foreign.Stages[2]}) takes 'input.1' [N, 16, 16, 16], and no output of stage 1 ({_foreign.Stages[0]}) has that shape (its outputs besides the logits: 'feat' [N, 8, 32, 32])");
    }

    [Fact]
    public async Task Import_WrongClassCount_IsOneLineNamingTheLogitsShape()
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync(
        [
            "import", "--stages", string.Join(",", _foreign.Stages), "--classes", "cat,dog,bird", .. NormalizationArgs(), "--out", _foreign.Path("out"),
        ]);
        AssertOneLine(
            (code, stdout, stderr),
            $"dfbnet import: stage 1 ({_foreign.Stages[0]}): no output has shape [N, 3] (one logit for each of the 3 classes of --classes); its outputs: 'feat' [N, 8, 32, 32], 'logits' [N, 10]");
    }

    [Theory]
    [InlineData(1, 32, 32, "is not a batch of RGB images; the server feeds [N, 3, H, W] (NCHW, 3 channels)")]
    [InlineData(3, 32, 24, "is not square; the server feeds square images (H = W)")]
    public async Task Import_InputThatIsNotASquareRgbImage_IsOneLineNamingTheInput(long channels, long height, long width, string problem)
    {
        var file = _foreign.WriteOneStage("one.onnx", channels, height, width);
        AssertOneLine(
            await Import(["--stage", file, "--out", _foreign.Path("out")]),
            $"dfbnet import: stage 1 ({file}): input 'input.1' [N, {channels}, {height}, {width}] {problem}");
    }

    [Fact]
    public async Task Import_BadOptionValues_AreOneLineNamingTheOption()
    {
        var stages = string.Join(",", _foreign.Stages);
        var (code, stdout, stderr) = await CliProcess.RunAsync("import", "--stages", stages, "--classes", string.Join(",", SyntheticModelFolder.Cifar10Classes), "--mean", "0.5,0.5", "--std", "1,1,1", "--out", _foreign.Path("out"));
        AssertOneLine((code, stdout, stderr), "dfbnet import: --mean '0.5,0.5': 2 value(s); expected three, for R, G and B");

        AssertOneLine(await Import(["--stages", stages, "--input-size", "64", "--out", _foreign.Path("out")]), $"dfbnet import: --input-size 64: stage 1 ({_foreign.Stages[0]}) takes 32x32 (input 'input.1' [N, 3, 32, 32])");
        AssertOneLine(await Import(["--stages", stages, "--logits-output", "a", "--logits-output", "b", "--out", _foreign.Path("out")]), "dfbnet import: --logits-output given 2 times for 3 stage(s) that have one; give it once (the same name in every stage) or once per stage, in order");
    }

    /// <summary>dfbnet import with the reference model's classes and normalisation.</summary>
    private static Task<(int ExitCode, string Stdout, string Stderr)> Import(string[] args) =>
        CliProcess.RunAsync(["import", "--classes", string.Join(",", SyntheticModelFolder.Cifar10Classes), .. NormalizationArgs(), .. args]);

    private static string[] NormalizationArgs() =>
        ["--mean", string.Join(",", Normalization.Mean.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture))), "--std", string.Join(",", Normalization.Std.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)))];

    /// <summary>Exit code 2 and exactly one line on stderr, <paramref name="expected"/>; nothing written.</summary>
    private void AssertOneLine((int ExitCode, string Stdout, string Stderr) result, string expected)
    {
        Assert.True(result.ExitCode == 2, result.Stdout + result.Stderr);
        Assert.Equal(expected, result.Stderr.TrimEnd('\n'));
        Assert.DoesNotContain('\n', result.Stderr.TrimEnd('\n'));
        Assert.Equal("", result.Stdout);
        Assert.False(File.Exists(Path.Combine(_foreign.Path("out"), ModelManifest.FileName)));
    }
}
