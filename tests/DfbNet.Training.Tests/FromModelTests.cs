using DfbNet.Core.Manifest;
using DfbNet.Training.Data;
using DfbNet.Training.Export;
using DfbNet.Training.Model;
using DfbNet.Training.Training;
using static TorchSharp.torch;

namespace DfbNet.Training.Tests;

/// <summary><c>dfbnet train --from-model</c>: a run that starts from an exported model folder's weights.</summary>
public sealed class FromModelTests
{
    private static TrainOptions TinyOptions(int baselineEpochs = 1, int jointEpochs = 1) => TrainingRecipes.For("tiny") with
    {
        BaselineEpochs = baselineEpochs,
        JointEpochs = jointEpochs,
        BatchSize = 25,
        ValidationCount = 50,
        Threads = 1,
        LogEvery = 1000,
    };

    private static TrainingData Data()
    {
        var slice = TestData.Slice();
        var (train, validation) = slice.SplitValidation(50, seed: 1);
        return new TrainingData(train, validation, validation);
    }

    /// <summary>A trained tiny run and its export (stages and baseline).</summary>
    private static (string RunFolder, string ModelFolder) Exported(string name)
    {
        var run = TestData.TempFolder($"{name}-run");
        new Trainer(run, _ => { }).Run(TinyOptions(), Data(), resume: false);
        var model = TestData.TempFolder($"{name}-model");
        ModelExporter.Export(run, model);
        return (run, model);
    }

    [Fact]
    public void FromModel_StartsFromWeightsThatComputeWhatTheExportedFilesDo_AndKeepsItsBaselineAndNormalisation()
    {
        var (run, modelFolder) = Exported("from-model");
        var dir = TestData.TempFolder("from-model-start");
        var lines = new List<string>();
        var started = new Trainer(dir, lines.Add).Run(TinyOptions(jointEpochs: 0), Data(), resume: false, fromModel: modelFolder);

        var source = Checkpoint.Load(run);
        var manifest = ManifestLoader.LoadFolder(modelFolder);
        Assert.Equal(TrainingPhase.Done, started.Phase);
        Assert.Equal(manifest.Input.Normalization.Mean, started.Mean);
        Assert.Equal(source.Classes, started.Classes);
        Assert.Equal(source.BaselineTestAccuracy, started.BaselineTestAccuracy);
        Assert.Equal(manifest.Baseline!.Description, started.BaselineDescription);
        Assert.Contains("fine-tuned from its export", started.Command, StringComparison.Ordinal);
        Assert.Contains(lines, l => l.Contains("folded second batch norm rebuilt", StringComparison.Ordinal));

        // Eval mode: every stage and the baseline as the trained run computes them (the export's folds undone).
        using var scope = NewDisposeScope();
        using var original = source.LoadModel(run);
        using var imported = started.LoadModel(dir);
        using var originalBaseline = source.LoadBaseline(run)!;
        using var importedBaseline = started.LoadBaseline(dir)!;
        var x = tensor(BatchBuilder.TestPixels(TestData.Slice(), 0, 16, started.Recipe()), [16, 3, 16, 16]);
        var (a, b) = (x, x);
        for (var s = 0; s < original.ExitCount; s++)
        {
            var (logitsA, featureA) = original.ForwardStage(s, a);
            var (logitsB, featureB) = imported.ForwardStage(s, b);
            Assert.True(logitsB.allclose(logitsA, rtol: 0, atol: 1e-4), $"stage {s + 1} logits differ by {logitsB.sub(logitsA).abs().max().item<float>()}");
            Assert.True(featureB.allclose(featureA, rtol: 0, atol: 1e-4), $"stage {s + 1} features differ");
            (a, b) = (featureA, featureB);
        }

        Assert.True(importedBaseline.ForwardMain(x).allclose(originalBaseline.ForwardMain(x), rtol: 0, atol: 1e-4));

        // The rebuilt BN2 holds the statistics of its input: in train mode on those images, a block gives what it gives in eval mode.
        var block = imported.Segments[0].Blocks[0];
        var train = Data().Train;
        var stem = imported.Segments[0].Stem!.forward(tensor(BatchBuilder.TestPixels(train, 0, train.Count, started.Recipe()), [train.Count, 3, 16, 16]));
        var z = block.Conv1.forward(nn.functional.relu(block.Bn1.forward(stem)));
        Assert.True(block.Bn2.running_mean!.allclose(z.mean([0, 2, 3]), rtol: 0, atol: 1e-4));
        Assert.True(block.Bn2.running_var!.allclose(z.var([0, 2, 3], unbiased: false), rtol: 1e-3, atol: 1e-5));
    }

    [Fact]
    public void FromModel_TrainsItsJointPhase_AndExportsAgainWithTheSourcesBaseline()
    {
        var (_, modelFolder) = Exported("from-model-train");
        var dir = TestData.TempFolder("from-model-train-run");
        var result = new Trainer(dir, _ => { }).Run(TinyOptions(jointEpochs: 1) with { Jpeg = new JpegAugmentation(1) }, Data(), resume: false, fromModel: modelFolder);
        Assert.Equal(TrainingPhase.Done, result.Phase);
        var joint = Assert.Single(result.History);
        Assert.Equal(TrainingPhase.Joint, joint.Phase);
        Assert.True(double.IsFinite(joint.Loss));

        var again = TestData.TempFolder("from-model-train-export");
        var manifest = ModelExporter.Export(dir, again);
        Assert.Equal(ManifestLoader.LoadFolder(modelFolder).Baseline!.Description, manifest.Baseline!.Description);
        Assert.Equal(File.ReadAllBytes(Path.Combine(modelFolder, "baseline.onnx")).Length, File.ReadAllBytes(Path.Combine(again, "baseline.onnx")).Length);
    }

    [Fact]
    public void FromModel_RefusesAnotherNetworkOrSplit_NamingTheFlags()
    {
        var (_, modelFolder) = Exported("from-model-refusals");
        var data = Data();
        var otherBranches = TinyOptions() with { Model = DfbNetConfig.Tiny() with { Branches = [new BranchSpec(0, 1, 1, 1), new BranchSpec(2, 1, 1, 1)] } };
        var error = Assert.Throws<InvalidDataException>(() => new Trainer(TestData.TempFolder("from-model-branches"), _ => { }).Run(otherBranches, data, resume: false, fromModel: modelFolder));
        Assert.Contains("stage2.onnx: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("--branches", error.Message, StringComparison.Ordinal);

        var split = Assert.Throws<ArgumentException>(() => new Trainer(TestData.TempFolder("from-model-seed"), _ => { }).Run(TinyOptions() with { Seed = 2 }, data, resume: false, fromModel: modelFolder));
        Assert.Contains("--seed", split.Message, StringComparison.Ordinal);

        var both = Assert.Throws<ArgumentException>(() => new Trainer(TestData.TempFolder("from-model-both"), _ => { }).Run(TinyOptions(), data, resume: false, fromBaseline: modelFolder, fromModel: modelFolder));
        Assert.Contains("not both", both.Message, StringComparison.Ordinal);
    }
}
