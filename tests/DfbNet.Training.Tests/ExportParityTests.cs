using DfbNet.Core.Manifest;
using DfbNet.Training.Data;
using DfbNet.Training.Export;
using DfbNet.Training.Model;
using DfbNet.Training.Training;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace DfbNet.Training.Tests;

public sealed class ExportParityTests(ITestOutputHelper output)
{
    private const float Tolerance = 1e-4f;

    /// <summary>A tiny model trained for a few steps, so BN statistics and weights are far from their initial values.</summary>
    private static (DfbNetModel Model, Checkpoint Checkpoint) TrainedTiny(double dropout = 0)
    {
        var data = TestData.Slice();
        var options = TrainingRecipes.For("tiny") with { Model = DfbNetConfig.Tiny() with { Dropout = dropout }, BatchSize = 25, ValidationCount = 50 };
        var (mean, std) = data.ChannelStatistics();
        random.manual_seed(11);
        var model = new DfbNetModel(options.Model);
        var recipe = new InputRecipe(16, 16, 16, 20, mean, std);
        using (var optimizer = optim.SGD(model.parameters(), 0.05, momentum: 0.9))
        {
            model.train();
            for (var step = 0; step < 6; step++)
            {
                using var scope = NewDisposeScope();
                var (x, y) = BatchBuilder.Train(data, Enumerable.Range(step * 25, 25).ToArray(), recipe, new Random(step));
                optimizer.zero_grad();
                Trainer.WeightedLoss(model.forward(x), y, options.LossWeights).backward();
                optimizer.step();
            }
        }

        model.eval();
        var checkpoint = new Checkpoint { Options = options, Mean = mean, Std = std, Classes = data.Classes, Phase = TrainingPhase.Done, TestAccuracy = [0.1f, 0.2f, 0.3f] };
        return (model, checkpoint);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.3)]
    public void EveryStage_MatchesTorchSharpWithinTolerance_OnRandomAndRealInputs(double dropout)
    {
        var (model, checkpoint) = TrainedTiny(dropout);
        using var _ = model;
        var folder = TestData.TempFolder("export");
        var manifest = ModelExporter.Export(model, checkpoint, folder);
        Assert.Equal(3, manifest.Stages.Count);
        Assert.Equal(ManifestLoader.LoadFolder(folder).Stages.Select(s => s.File), manifest.Stages.Select(s => s.File));

        var data = TestData.Slice();
        var real = BatchBuilder.TestPixels(data, 0, 16, checkpoint.Recipe());
        random.manual_seed(3);
        using var randomInput = randn(16, 3, 16, 16).mul(2);
        foreach (var input in new[] { real, randomInput.data<float>().ToArray() })
        {
            var maxDiff = StageParity(model, folder, manifest, input, 16);
            output.WriteLine($"dropout {dropout}: max |ORT - TorchSharp| = {maxDiff:E2}");
            Assert.True(maxDiff <= Tolerance, $"max |logit or feature diff| {maxDiff}");
        }
    }

    [Fact]
    public void ComposedMainBranch_MatchesTheMainBranchAlone()
    {
        var (model, checkpoint) = TrainedTiny();
        using var _ = model;
        var folder = TestData.TempFolder("export-main");
        var manifest = ModelExporter.Export(model, checkpoint, folder);
        var input = BatchBuilder.TestPixels(TestData.Slice(), 20, 8, checkpoint.Recipe());
        using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(DfbNet.Core.Onnx.MainBranchComposer.Compose(folder, manifest)));
        using var x = OrtValue.CreateTensorValueFromMemory(input, [8, 3, 16, 16]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [DfbNet.Core.Onnx.MainBranchComposer.InputName], [x], [DfbNet.Core.Onnx.MainBranchComposer.LogitsName]);
        var ort = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        using var scope = NewDisposeScope();
        var expected = model.ForwardMain(tensor(input, [8, 3, 16, 16])).data<float>().ToArray();
        Assert.True(MaxDiff(ort, expected) <= Tolerance);
    }

    [Fact]
    public void Baseline_ExportsAsOneGraphBesideTheStages_ThatComputesTheBaselinesMainBranch()
    {
        var (model, checkpoint) = TrainedTiny();
        using var _ = model;
        random.manual_seed(12);
        using var baseline = new DfbNetModel(checkpoint.Options.Model);
        baseline.eval();
        var folder = TestData.TempFolder("export-baseline");
        var manifest = ModelExporter.Export(model, checkpoint, folder, baseline: baseline);
        Assert.Equal("baseline.onnx", manifest.Baseline!.File);
        Assert.True(File.Exists(Path.Combine(folder, "baseline.onnx")));
        Assert.Equal(DfbNetModel.Count(baseline.MainParameters()), manifest.Baseline.Parameters);
        Assert.True(manifest.Baseline.Flops > 0 && manifest.Baseline.Flops < manifest.Stages.Sum(s => s.Flops));
        Assert.NotNull(ManifestLoader.LoadFolder(folder).Baseline);

        var input = BatchBuilder.TestPixels(TestData.Slice(), 0, 8, checkpoint.Recipe());
        using var session = new InferenceSession(Path.Combine(folder, manifest.Baseline.File));
        using var x = OrtValue.CreateTensorValueFromMemory(input, [8, 3, 16, 16]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [manifest.Baseline.Input], [x], [manifest.Baseline.LogitsOutput]);
        var ort = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        using var scope = NewDisposeScope();
        var expected = baseline.ForwardMain(tensor(input, [8, 3, 16, 16])).data<float>().ToArray();
        var joint = model.ForwardMain(tensor(input, [8, 3, 16, 16])).data<float>().ToArray();
        Assert.True(MaxDiff(ort, expected) <= Tolerance);
        Assert.True(MaxDiff(ort, joint) > 1e-3, "the baseline is its own network, not the DFB-Net's main branch");
    }

    [Fact]
    public void Manifest_CarriesNormalisationClassesCostsAndAccuracy()
    {
        var (model, checkpoint) = TrainedTiny();
        using var _ = model;
        var folder = TestData.TempFolder("export-manifest");
        var manifest = ModelExporter.Export(model, checkpoint, folder);
        Assert.Equal(checkpoint.Mean, manifest.Input.Normalization.Mean);
        Assert.Equal(checkpoint.Std, manifest.Input.Normalization.Std);
        Assert.Equal(1f / 255f, manifest.Input.Normalization.Scale);
        Assert.Equal(16, manifest.Input.Width);
        Assert.Equal(["image", "feature1", "feature2"], manifest.Stages.Select(s => s.Input));
        Assert.Equal(DfbNetModel.Count(model.parameters()), manifest.Stages.Sum(s => s.Parameters));
        Assert.All(manifest.Stages, s => Assert.True(s.Flops > 0));
        Assert.Equal([0.1f, 0.2f, 0.3f], manifest.Accuracy!.Exits!);
        Assert.Equal([1f, 1f, 0f], manifest.Thresholds.Presets[DefaultPresets.Main]);
        Assert.False(manifest.Untrained);
    }

    /// <summary>Runs the ONNX stages chained (each fed the previous ONNX feature) and compares with TorchSharp's stages.</summary>
    private static float StageParity(DfbNetModel model, string folder, ModelManifest manifest, float[] input, int n)
    {
        var maxDiff = 0f;
        using var scope = NewDisposeScope();
        var torchInput = tensor(input, [n, 3, 16, 16]);
        var ortInput = input;
        long[] shape = [n, 3, 16, 16];
        for (var s = 0; s < manifest.Stages.Count; s++)
        {
            var spec = manifest.Stages[s];
            var (logits, feature) = model.ForwardStage(s, torchInput);
            using var session = new InferenceSession(Path.Combine(folder, spec.File));
            using var x = OrtValue.CreateTensorValueFromMemory(ortInput, shape);
            string[] outputs = spec.FeatureOutput is null ? [spec.LogitsOutput] : [spec.LogitsOutput, spec.FeatureOutput];
            using var results = session.Run(new RunOptions(), [spec.Input], [x], outputs);
            maxDiff = Math.Max(maxDiff, MaxDiff(results[0].GetTensorDataAsSpan<float>().ToArray(), logits.data<float>().ToArray()));
            if (spec.FeatureOutput is not null)
            {
                var ortFeature = results[1].GetTensorDataAsSpan<float>().ToArray();
                maxDiff = Math.Max(maxDiff, MaxDiff(ortFeature, feature.contiguous().data<float>().ToArray()));
                ortInput = ortFeature;
                shape = results[1].GetTensorTypeAndShape().Shape;
                torchInput = feature;
            }
        }

        return maxDiff;
    }

    private static float MaxDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        var max = 0f;
        for (var i = 0; i < a.Length; i++)
        {
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }

        return max;
    }
}
