using System.Globalization;
using DfbNet.Core.Onnx;
using DfbNet.Runtime.Tests;

namespace DfbNet.Cli.Tests;

/// <summary><c>dfbnet eval</c> / <c>dfbnet bench</c> end to end on a built model and the committed CIFAR-10 slice.</summary>
public sealed class EvalCommandTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "dfbnet-eval-" + Guid.NewGuid().ToString("N"));

    public EvalCommandTests()
    {
        SyntheticModelFolder.Write(Path.Combine(_root, "model"), new SyntheticDfbNetOptions { InputSize = 32, Seed = 7 });
        Directory.CreateDirectory(Path.Combine(_root, "data", "cifar-10"));
        File.Copy(CifarSlice.FilePath, Path.Combine(_root, "data", "cifar-10", "test_batch.bin"));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("eval")]
    [InlineData("bench")]
    public async Task Eval_PrintsTable2RowsWithConsistentFigures(string verb)
    {
        var (code, output) = await SynthCommandTests.RunCli(verb, "--model", Path.Combine(_root, "model"), "--data", Path.Combine(_root, "data"), "--timing-images", "50", "--providers", "tensorrt,cuda,cpu", "--thresholds", "0.5,0.5,0;1,1,0");
        Assert.True(code == 0, output);
        Assert.Contains("200 test images", output, StringComparison.Ordinal);
        Assert.Contains("ONNX Runtime CPU", output, StringComparison.Ordinal);
        Assert.Contains("timing thresholds 1,1,0 (2 of 2) over 50 images at batch 1", output, StringComparison.Ordinal);

        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var main = Columns(lines.Single(l => l.StartsWith("main branch alone", StringComparison.Ordinal)), "main branch alone");
        var early = Columns(lines.Single(l => l.StartsWith("0.5,0.5,0", StringComparison.Ordinal)), "0.5,0.5,0");
        var all = Columns(lines.Single(l => l.StartsWith("1,1,0", StringComparison.Ordinal)), "1,1,0");

        // Columns: error, mean, p50, p99, gain, then the exit ratios.
        Assert.All(new[] { main, early, all }, c => Assert.True(c[1] > 0 && c[2] > 0 && c[3] >= c[2]));
        Assert.Equal(main[0], all[0]);
        // The gain is main mean / row mean, both printed to 0.001 ms, the gain to 0.01: the printed gain must lie within
        // what those roundings allow (a fixed decimal comparison fails whenever the two sides round across a boundary).
        Assert.InRange(early[4], ((main[1] - 0.0005) / (early[1] + 0.0005)) - 0.005, ((main[1] + 0.0005) / (early[1] - 0.0005)) + 0.005);
        Assert.Equal(100, early[5] + early[6] + early[7] + early[8], 1);
        Assert.Equal([0, 0, 100, 0], all.Skip(5).Take(4));
    }

    [Fact]
    public async Task Eval_OfAModelWithABaseline_PrintsItsOwnRow_WhoseErrorIsTheBaselinesOwn_AndGainsAreAgainstIt()
    {
        // The baseline: another network of the same input, here the composed main branch of a model with other weights.
        var folder = Path.Combine(_root, "model");
        var other = Path.Combine(_root, "other");
        SyntheticModelFolder.Write(other, new SyntheticDfbNetOptions { InputSize = 32, Seed = 8 });
        var otherManifest = DfbNet.Core.Manifest.ManifestLoader.LoadFolder(other);
        File.WriteAllBytes(Path.Combine(folder, "baseline.onnx"), Google.Protobuf.MessageExtensions.ToByteArray(MainBranchComposer.Compose(other, otherManifest)));
        var manifest = DfbNet.Core.Manifest.ManifestLoader.LoadFolder(folder);
        manifest.Baseline = new DfbNet.Core.Manifest.BaselineSpec { File = "baseline.onnx", Input = MainBranchComposer.InputName, LogitsOutput = MainBranchComposer.LogitsName, Description = "trained alone (test)" };
        DfbNet.Core.Manifest.ManifestLoader.Save(manifest, folder);

        // Direct computation: the server's preprocessor, one ONNX Runtime session, argmax against the labels.
        int wrong;
        using (var engine = DfbNet.Runtime.EarlyExitEngine.Load(folder, new DfbNet.Runtime.EngineOptions()))
        using (var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Path.Combine(folder, "baseline.onnx")))
        {
            wrong = 0;
            var pixels = new float[engine.Preprocessor.TensorLength];
            for (var i = 0; i < CifarSlice.Count; i++)
            {
                engine.Preprocessor.Process(DfbNet.Runtime.Preprocessing.ImageSource.Raw(CifarSlice.Hwc(i), 32, 32), pixels);
                using var x = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(pixels, [1, 3, 32, 32]);
                using var run = new Microsoft.ML.OnnxRuntime.RunOptions();
                using var outputs = session.Run(run, [MainBranchComposer.InputName], [x], [MainBranchComposer.LogitsName]);
                wrong += DfbNet.Core.ExitPolicy.ArgMax(outputs[0].GetTensorDataAsSpan<float>()) == CifarSlice.Label(i) ? 0 : 1;
            }
        }

        var (code, output) = await SynthCommandTests.RunCli("eval", "--model", folder, "--data", Path.Combine(_root, "data"), "--timing-images", "40", "--thresholds", "0.5,0.5,0");
        Assert.True(code == 0, output);
        Assert.Contains("Gains are against the baseline trained alone (trained alone (test))", output, StringComparison.Ordinal);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var baseline = Columns(lines.Single(l => l.StartsWith("baseline ", StringComparison.Ordinal)), "baseline");
        var main = Columns(lines.Single(l => l.StartsWith("main branch (joint)", StringComparison.Ordinal)), "main branch (joint)");
        var early = Columns(lines.Single(l => l.StartsWith("0.5,0.5,0", StringComparison.Ordinal)), "0.5,0.5,0");
        Assert.Equal(Math.Round(100.0 * wrong / CifarSlice.Count, 2), baseline[0]);
        Assert.Equal(1, baseline[4]);
        Assert.InRange(early[4], ((baseline[1] - 0.0005) / (early[1] + 0.0005)) - 0.005, ((baseline[1] + 0.0005) / (early[1] - 0.0005)) + 0.005);
        Assert.InRange(main[4], ((baseline[1] - 0.0005) / (main[1] + 0.0005)) - 0.005, ((baseline[1] + 0.0005) / (main[1] - 0.0005)) + 0.005);
    }

    [Fact]
    public async Task Eval_WithFramesAnytimeAndJson_ScoresEachEncoding_EachBudget_AndWritesEveryFigure()
    {
        var jsonPath = Path.Combine(_root, "eval.json");
        var (code, output) = await SynthCommandTests.RunCli("eval", "--model", Path.Combine(_root, "model"), "--data", Path.Combine(_root, "data"), "--timing-images", "20", "--limit", "60", "--preset", "balanced", "--frames", "raw,png,jpeg:75@2x", "--anytime", "0.001,1000", "--json", jsonPath);
        Assert.True(code == 0, output);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        // Raw pixels and PNG are lossless: the same errors as the main table; the accuracy-by-mode table is there too.
        var raw = Columns(lines.Single(l => l.StartsWith("raw ", StringComparison.Ordinal)), "raw");
        var png = Columns(lines.Single(l => l.StartsWith("png ", StringComparison.Ordinal)), "png");
        Assert.Equal(raw.Skip(1), png.Skip(1));
        var balancedLine = lines.Single(l => l.StartsWith("balanced (", StringComparison.Ordinal));
        var balanced = Columns(balancedLine[(balancedLine.IndexOf(')', StringComparison.Ordinal) + 1)..], "");
        Assert.Equal(balanced[0], raw[^1]);
        Assert.Single(lines, l => l.StartsWith("jpeg:75@2x ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("Accuracy % by mode", StringComparison.Ordinal));

        // A budget of 1 microsecond answers nothing; 1000 ms cuts nothing.
        var tight = Columns(lines.Single(l => l.TrimStart().StartsWith("0.001 ", StringComparison.Ordinal)), "");
        var loose = Columns(lines.Single(l => l.TrimStart().StartsWith("1000 ", StringComparison.Ordinal)), "");
        Assert.Equal([0.001, 0, 100, 100], [tight[0], tight[1], tight[3], tight[4]]);
        Assert.Equal(0, loose[3]);
        Assert.Equal(0, loose[4]);

        using var json = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(jsonPath));
        var root = json.RootElement;
        Assert.Equal(60, root.GetProperty("images").GetInt32());
        Assert.Equal(["main branch", "balanced"], root.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("name").GetString()));
        Assert.Equal(3, root.GetProperty("frames").GetArrayLength());
        Assert.Equal(2, root.GetProperty("anytime").GetProperty("points").GetArrayLength());
        Assert.Equal(1, root.GetProperty("modes").GetArrayLength());

        (code, output) = await SynthCommandTests.RunCli("eval", "--model", Path.Combine(_root, "model"), "--data", Path.Combine(_root, "data"), "--frames", "gif");
        Assert.Equal(2, code);
        Assert.Contains("--frames 'gif' is not raw, png or jpeg:Q", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_WithBatchSizes_TimesEachStageAtEachBatchSize()
    {
        var (code, output) = await SynthCommandTests.RunCli("bench", "--model", Path.Combine(_root, "model"), "--data", Path.Combine(_root, "data"), "--timing-images", "10", "--limit", "20", "--preset", "balanced", "--batch-sizes", "1,4");
        Assert.True(code == 0, output);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = Array.FindIndex(lines, l => l.StartsWith("Stage time per image by batch size", StringComparison.Ordinal));
        Assert.True(header >= 0, output);
        Assert.Matches(@"^stage\s+b=1\s+b=4\s+gain at b=4", lines[header + 1]);
        for (var s = 1; s <= 3; s++)
        {
            var row = Columns(lines[header + 1 + s], s.ToString(System.Globalization.CultureInfo.InvariantCulture));
            // b=1 and b=4 in milliseconds (the gain column ends in 'x').
            Assert.Equal(2, row.Length);
            Assert.True(row[0] > 0 && row[1] > 0, lines[header + 1 + s]);
        }

        (code, output) = await SynthCommandTests.RunCli("bench", "--model", Path.Combine(_root, "model"), "--data", Path.Combine(_root, "data"), "--batch-sizes", "1,zero");
        Assert.Equal(2, code);
        Assert.Contains("--batch-sizes '1,zero'", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_WithGivenExitRatios_WeightsTheMeasuredExitPathsByThem()
    {
        var (code, output) = await SynthCommandTests.RunCli("bench", "--model", Path.Combine(_root, "model"), "--data", Path.Combine(_root, "data"), "--timing-images", "60", "--preset", "balanced", "--exit-ratios", "80.03,9.48,9.19,1.30");
        Assert.True(code == 0, output);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var given = lines.Single(l => l.StartsWith("Given exit ratios % (1..3, fused) 80.03, 9.48, 9.19, 1.3:", StringComparison.Ordinal));
        var paths = Columns(given[(given.IndexOf("exit 1..3", StringComparison.Ordinal) + "exit 1..3".Length)..], "");
        Assert.Equal(3, paths.Length);
        // Each path timed (no ordering check: beside the other test processes on two cores, one descheduled frame
        // outweighs a path's 20 samples).
        Assert.All(paths, p => Assert.True(p > 0, given));

        // weighted mean = sum of ratio x path, fusion at the last path's cost; printed to 0.001 ms from 0.001 ms paths.
        var summary = System.Text.RegularExpressions.Regex.Match(output, @"weighted mean ([0-9.]+) ms per image, gain ([0-9.]+)x over the main branch alone \(([0-9.]+) ms\)");
        Assert.True(summary.Success, output);
        var (mean, gain, mainMean) = (Number(summary.Groups[1].Value), Number(summary.Groups[2].Value), Number(summary.Groups[3].Value));
        var expected = (0.8003 * paths[0]) + (0.0948 * paths[1]) + ((0.0919 + 0.0130) * paths[2]);
        Assert.InRange(mean, expected - 0.002, expected + 0.002);
        var main = Columns(lines.Single(l => l.StartsWith("main branch alone", StringComparison.Ordinal)), "main branch alone");
        Assert.Equal(main[1], mainMean);
        Assert.InRange(gain, ((mainMean - 0.0005) / (mean + 0.0005)) - 0.005, ((mainMean + 0.0005) / (mean - 0.0005)) + 0.005);
    }

    [Fact]
    public async Task Bench_WithCudaGraphs_SaysWhereNoStageCapturesOne()
    {
        // No GPU here: CUDA is skipped, so the CPU runs the stages and the report must not claim captured graphs.
        var (code, output) = await SynthCommandTests.RunCli("bench", "--model", Path.Combine(_root, "model"), "--data", Path.Combine(_root, "data"), "--timing-images", "20", "--limit", "40", "--providers", "cuda,cpu", "--cuda-graphs", "--preset", "balanced");
        Assert.True(code == 0, output);
        Assert.Contains("ONNX Runtime CPU (main branch alone: CPU)", output, StringComparison.Ordinal);
        Assert.DoesNotContain("captured", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_OnStagesThatReplayCapturedGraphs_GivesTheSameErrorsAndRatios()
    {
        // Host memory stands in for the GPU's: the fixed-buffer path for the stages and the main branch alone.
        var test = DfbNet.Training.Data.CifarReader.LoadCifar10Test(Path.Combine(_root, "data")).Take(60);
        IReadOnlyList<(string, float[])> sets = [("balanced", [0.6f, 0.7f, 0.5f])];
        using var plain = new Evaluation.OrtModelRunner(Path.Combine(_root, "model"), 1, "cpu");
        using var captured = new Evaluation.OrtModelRunner(Path.Combine(_root, "model"), 1, new Runtime.ExecutionProviders.ExecutionProviderChain([new Runtime.Tests.ExecutionProviders.GraphCapturingProvider()]));
        var expected = await Commands.TableReport.RunAsync(plain, test, sets, 30, null, CancellationToken.None);
        var actual = await Commands.TableReport.RunAsync(captured, test, sets, 30, null, CancellationToken.None);

        Assert.Contains("ONNX Runtime FakeGPU with captured graphs (main branch alone: FakeGPU with a captured graph)", actual, StringComparison.Ordinal);
        foreach (var row in new[] { "Exit errors alone", "main branch alone", "balanced (0.6,0.7,0.5)" })
        {
            // Same error and exit-ratio columns; only the timings differ.
            Assert.Equal(Figures(expected, row, timed: row != "Exit errors alone"), Figures(actual, row, timed: row != "Exit errors alone"));
        }
    }

    [Fact]
    public async Task Bench_WithGivenExitRatios_TimesEveryExitPath_EvenOverAsFewImagesAsExits()
    {
        var (code, output) = await SynthCommandTests.RunCli("bench", "--model", Path.Combine(_root, "model"), "--data", Path.Combine(_root, "data"), "--limit", "10", "--timing-images", "3", "--preset", "balanced", "--exit-ratios", "80.03,9.48,9.19,1.30");
        Assert.True(code == 0, output);
        var given = output.Split('\n').Single(l => l.StartsWith("Given exit ratios", StringComparison.Ordinal));
        var paths = Columns(given[(given.IndexOf("exit 1..3", StringComparison.Ordinal) + "exit 1..3".Length)..], "");
        Assert.All(paths, p => Assert.True(p > 0, given));

        (code, output) = await SynthCommandTests.RunCli("bench", "--model", Path.Combine(_root, "model"), "--data", Path.Combine(_root, "data"), "--limit", "10", "--timing-images", "2", "--exit-ratios", "80.03,9.48,9.19,1.30");
        Assert.Equal(2, code);
        Assert.Contains("it needs at least 3 timing images, not 2", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_CudaOption_MustBeKeyEqualsValue()
    {
        var (code, output) = await SynthCommandTests.RunCli("bench", "--model", Path.Combine(_root, "model"), "--data", Path.Combine(_root, "data"), "--limit", "10", "--timing-images", "5", "--providers", "cuda,cpu", "--cuda-option", "prefer_nhwc=1", "--cuda-option", "nonsense");
        Assert.Equal(2, code);
        Assert.Contains("--cuda-option 'nonsense' is not key=value", output, StringComparison.Ordinal);

        (code, output) = await SynthCommandTests.RunCli("bench", "--model", Path.Combine(_root, "model"), "--data", Path.Combine(_root, "data"), "--limit", "10", "--timing-images", "5", "--providers", "cuda,cpu", "--cuda-option", "prefer_nhwc=1", "--preset", "balanced");
        Assert.True(code == 0, output);
        Assert.Contains("ONNX Runtime CPU", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eval_UnknownPreset_SaysWhichPresetsExist()
    {
        var (code, output) = await SynthCommandTests.RunCli("eval", "--model", Path.Combine(_root, "model"), "--data", Path.Combine(_root, "data"), "--preset", "turbo");
        Assert.Equal(2, code);
        Assert.Contains("--preset 'turbo': the model has no such preset (it has fast, balanced, accurate)", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("80,20", "3 exits, so 4 are needed")]
    [InlineData("80,10,5,1", "add up to 96")]
    [InlineData("80,10,-5,15", "not a non-negative percentage")]
    public async Task Bench_RejectsExitRatiosThatDoNotFitTheModel(string ratios, string message)
    {
        var (code, output) = await SynthCommandTests.RunCli("bench", "--model", Path.Combine(_root, "model"), "--data", Path.Combine(_root, "data"), "--timing-images", "5", "--exit-ratios", ratios);
        Assert.Equal(2, code);
        Assert.Contains(message, output, StringComparison.Ordinal);
    }

    private static double Number(string text) => double.Parse(text, CultureInfo.InvariantCulture);

    /// <summary>Numbers of a table row after its label; "-" and "N/A" are skipped.</summary>
    private static double[] Columns(string line, string label) =>
        line[label.Length..].Replace(",", " ", StringComparison.Ordinal).Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Where(t => double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            .Select(t => double.Parse(t, CultureInfo.InvariantCulture))
            .ToArray();

    /// <summary>A report row's text without its timing columns (mean, p50, p99, gain).</summary>
    private static string Figures(string report, string row, bool timed)
    {
        var line = report.Split('\n').Single(l => l.StartsWith(row, StringComparison.Ordinal));
        if (!timed)
        {
            return line;
        }

        var parts = line[row.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return string.Join(' ', parts.Take(1).Concat(parts.Skip(5)));
    }
}
