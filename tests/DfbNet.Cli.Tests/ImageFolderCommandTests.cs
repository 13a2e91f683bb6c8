using System.Globalization;
using DfbNet.Core.Manifest;
using DfbNet.Server.Tests;
using DfbNet.Testing;
using DfbNet.Training.Evaluation;
using DfbNet.Training.Training;

namespace DfbNet.Cli.Tests;

/// <summary>
/// An image folder through the dfbnet executable as a user runs it: train (tiny preset, another input size), export,
/// calibrate, eval, then the exported model on a real server, answering with the folder's class names.
/// </summary>
public sealed class ImageFolderCommandTests : IDisposable
{
    private static readonly string[] Classes = ["airplane", "cat", "ship"];

    private readonly string _root = Path.Combine(Path.GetTempPath(), "dfbnet-image-folder-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task ImageFolder_TrainsExportsCalibratesAndEvaluates_AndTheServedModelAnswersWithItsClassNames()
    {
        var data = Path.Combine(_root, "photos");
        var files = ImageFolderWriter.Write(data, ImageFolderWriter.ThreeClasses, count: 14);
        var run = Path.Combine(_root, "run");
        var model = Path.Combine(_root, "models", "tiny");

        // 14 images a class: 3 test, 3 validation, 8 training.
        var (code, output) = await SynthCommandTests.RunCli(
            "train", "--preset", "tiny", "--data", data, "--out", run, "--input-size", "24", "--baseline-epochs", "1", "--epochs", "1",
            "--batch", "8", "--threads", "1", "--seed", "4", "--validation-share", "0.2", "--test-share", "0.2");
        Assert.True(code == 0, output);
        Assert.Contains("24 training, 9 validation images", output, StringComparison.Ordinal);
        var checkpoint = Checkpoint.Load(run);
        Assert.Equal(Classes, checkpoint.Classes);
        Assert.Equal((24, 24, 24, 30), (checkpoint.Options.Model.TestSize, checkpoint.Options.Model.CropSize, checkpoint.Options.Model.ScaleMin, checkpoint.Options.Model.ScaleMax));
        Assert.Equal(3, checkpoint.Options.Model.Classes);

        (code, output) = await SynthCommandTests.RunCli("export", "--checkpoint", run, "--out", model, "--data", data);
        Assert.True(code == 0, output);
        Assert.Contains("Parity, 9 test images through the server's preprocessor", output, StringComparison.Ordinal);
        var manifest = ManifestLoader.LoadFolder(model);
        Assert.Equal(Classes, manifest.Classes);
        Assert.Equal((24, 24), (manifest.Input.Width, manifest.Input.Height));
        Assert.Equal(new DataSplit { Seed = 4, ValidationCount = 100, ValidationShare = 0.2, TestShare = 0.2 }, manifest.Training!.Split);
        Assert.StartsWith("DFB-Net 'tiny' trained on photos:", manifest.Description, StringComparison.Ordinal);
        Assert.Equal("photos test", manifest.Accuracy!.Dataset);

        // Without --checkpoint: calibrate finds the run's validation images through the split the manifest records.
        (code, output) = await SynthCommandTests.RunCli("calibrate", "--model", model, "--data", data, "--cost", "macs");
        Assert.True(code == 0, output);
        Assert.Contains("Validation: 9 images", output, StringComparison.Ordinal);
        Assert.Equal(ThresholdCalibrator.Balanced, ManifestLoader.LoadFolder(model).Thresholds.Default);

        (code, output) = await SynthCommandTests.RunCli("eval", "--model", model, "--data", data, "--timing-images", "5");
        Assert.True(code == 0, output);
        Assert.Contains("9 test images", output, StringComparison.Ordinal);

        await using var server = TestServer.Build(Path.Combine(_root, "models"));
        await server.StartAsync();
        var frame = files["cat"][1];
        Assert.EndsWith(".jpg", frame, StringComparison.Ordinal);
        var (classifyCode, stdout, stderr) = await CliProcess.RunAsync("classify", frame, "--server", TestServer.GrpcAddress(server));
        Assert.True(classifyCode == 0, stderr);
        var row = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(frame, row[0]);
        Assert.Contains(row[1], Classes);
        Assert.InRange(double.Parse(row[2], CultureInfo.InvariantCulture), 1.0 / 3, 1);
        await server.StopAsync();
    }

    [Fact]
    public async Task Train_WithBranches_TrainsAndExportsThatShape_AndRefusesWhatCannotBe()
    {
        var data = Path.Combine(_root, "photos");
        ImageFolderWriter.Write(data, ImageFolderWriter.ThreeClasses, count: 14);
        var run = Path.Combine(_root, "run");

        // One side branch, after block 1 of Conv3_x: a two-exit network, its loss weights following the exit count.
        var (code, output) = await SynthCommandTests.RunCli(
            "train", "--preset", "tiny", "--data", data, "--out", run, "--branches", "3.1:N1k2", "--baseline-epochs", "1", "--epochs", "1",
            "--batch", "8", "--threads", "1", "--validation-share", "0.2", "--test-share", "0.2");
        Assert.True(code == 0, output);
        var model = Checkpoint.Load(run).Options.Model;
        Assert.Equal([new Training.Model.BranchSpec(1, 1, 1, 2)], model.Branches);
        Assert.Equal(2, Checkpoint.Load(run).Options.LossWeights.Count);
        (code, output) = await SynthCommandTests.RunCli("export", "--checkpoint", run, "--out", Path.Combine(_root, "model"), "--data", data);
        Assert.True(code == 0, output);
        Assert.Equal(2, ManifestLoader.LoadFolder(Path.Combine(_root, "model")).Stages.Count);

        foreach (var (args, message) in new[]
        {
            (new[] { "--branches", "5.1:N1k1" }, "dfbnet train: --branches: '5.1:N1k1': a branch leaves after a block of Conv2_x, Conv3_x or Conv4_x, not Conv5_x."),
            (new[] { "--branches", "2.5:N1k1" }, "dfbnet train: --branches: Preset tiny: branch"),
            (new[] { "--branches", "2.1:N1k1", "--resume" }, "dfbnet train: --branches: a resumed run keeps the branches it began with"),
            (new[] { "--branches", "2.1:N1k1", "--weights", "1,1,1" }, "dfbnet train: --weights: 3 loss weights for 2 exits"),
            (new[] { "--from-model", Path.Combine(_root, "model"), "--resume" }, "dfbnet train: --from-model: starts a new run"),
        })
        {
            (code, output) = await SynthCommandTests.RunCli(["train", "--preset", "tiny", "--data", data, "--out", run, .. args]);
            Assert.Equal(2, code);
            Assert.StartsWith(message, output.Trim(), StringComparison.Ordinal);
            Assert.Single(output.Trim().Split('\n'));
        }

        // Fine-tuning the exported model: its network and split, or one line that says what differs.
        string[] split = ["--validation-share", "0.2", "--test-share", "0.2", "--batch", "8", "--threads", "1"];
        (code, output) = await SynthCommandTests.RunCli(["train", "--preset", "tiny", "--data", data, "--out", Path.Combine(_root, "tuned"), "--from-model", Path.Combine(_root, "model"), .. split]);
        Assert.Equal(2, code);
        // The loader's progress lines come first; the refusal is the last line, and no stack trace.
        Assert.StartsWith("dfbnet train: The model folder has 2 stages; the network of this run has 3 exits.", output.Trim().Split('\n')[^1], StringComparison.Ordinal);
        Assert.Single(output.Split('\n'), line => line.StartsWith("dfbnet train:", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        (code, output) = await SynthCommandTests.RunCli(["train", "--preset", "tiny", "--data", data, "--out", Path.Combine(_root, "tuned"), "--from-model", Path.Combine(_root, "model"), "--branches", "3.1:N1k2", "--epochs", "1", "--jpeg-augment", "1", .. split]);
        Assert.True(code == 0, output);
        Assert.Contains("Weights from the exported model", output, StringComparison.Ordinal);
        Assert.Equal(TrainingPhase.Done, Checkpoint.Load(Path.Combine(_root, "tuned")).Phase);
    }

    [Fact]
    public async Task Train_OnAFolderOfNeitherKind_FailsWithOneLineThatSaysWhatWasExpected()
    {
        var data = Path.Combine(_root, "notes");
        Directory.CreateDirectory(data);
        await File.WriteAllTextAsync(Path.Combine(data, "readme.txt"), "no images");
        var (code, output) = await SynthCommandTests.RunCli("train", "--preset", "tiny", "--data", data, "--out", Path.Combine(_root, "run"));
        Assert.Equal(2, code);
        Assert.StartsWith($"dfbnet: {data} is neither CIFAR-10 (", output.Trim(), StringComparison.Ordinal);
        Assert.Single(output.Trim().Split('\n'));

        (code, output) = await SynthCommandTests.RunCli("train", "--preset", "tiny", "--data", data, "--out", Path.Combine(_root, "run"), "--input-size", "4");
        Assert.Equal(2, code);
        Assert.Contains("--input-size 4: the network needs inputs of at least 8x8", output, StringComparison.Ordinal);
    }
}
