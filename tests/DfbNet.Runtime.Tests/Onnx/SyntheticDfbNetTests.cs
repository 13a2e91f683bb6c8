using DfbNet.Core.Onnx;
using DfbNet.Core.Onnx.Proto;

namespace DfbNet.Runtime.Tests.Onnx;

/// <summary>The synthetic early-exit network must load, chain stage to stage and be reproducible.</summary>
public sealed class SyntheticDfbNetTests
{
    [Theory]
    [InlineData(32, 1)]
    [InlineData(32, 3)]
    [InlineData(56, 1)]
    [InlineData(56, 3)]
    [InlineData(16, 2)]
    public void Stages_RunAndChainWithDeclaredNamesAndShapes(int inputSize, int batch)
    {
        var options = new SyntheticDfbNetOptions { InputSize = inputSize };
        var stages = SyntheticDfbNet.Build(options);
        var random = new Random(3);

        Assert.Equal(3, stages.Count);
        Assert.Equal("image", stages[0].InputName);
        Assert.Equal([3L, inputSize, inputSize], stages[0].InputShape);

        var input = new TensorData(
            OrtTestRunner.RandomData(random, batch * 3 * inputSize * inputSize, 0f, 1f),
            [batch, 3, inputSize, inputSize]);
        foreach (var stage in stages)
        {
            Assert.Equal(stage.InputShape, input.Shape[1..]);
            var outputs = OrtTestRunner.Run(stage.Model, (stage.InputName, input));

            var logits = outputs[stage.LogitsName];
            Assert.Equal($"logits{stage.Index}", stage.LogitsName);
            Assert.Equal([batch, options.ClassCount], logits.Shape);
            Assert.All(logits.Data, v => Assert.True(float.IsFinite(v)));

            if (stage.Index == stages.Count)
            {
                Assert.Null(stage.FeatureName);
                Assert.Null(stage.FeatureShape);
                Assert.Single(outputs);
                continue;
            }

            Assert.Equal($"feature{stage.Index}", stage.FeatureName);
            Assert.NotNull(stage.FeatureShape);
            var feature = outputs[stage.FeatureName!];
            Assert.Equal([batch, .. stage.FeatureShape!], feature.Shape);
            Assert.Equal(stage.FeatureName, stages[stage.Index].InputName);
            input = feature;
        }
    }

    [Fact]
    public void Stages_HalveResolutionAndWidenChannelsPerStage()
    {
        var stages = SyntheticDfbNet.Build(new SyntheticDfbNetOptions { InputSize = 56, StageWidths = [8, 16, 32] });

        Assert.Equal([8L, 56, 56], stages[0].FeatureShape!);
        Assert.Equal([16L, 28, 28], stages[1].FeatureShape!);
        Assert.Equal([16L, 28, 28], stages[2].InputShape);
    }

    [Fact]
    public void Stages_ReportParametersMatchingInitializersAndPositiveFlops()
    {
        foreach (var stage in SyntheticDfbNet.Build())
        {
            var graph = ModelProto.Parser.ParseFrom(stage.Model).Graph;
            var parameters = graph.Initializer.Sum(t => t.Dims.Aggregate(1L, (a, d) => a * d));

            Assert.Equal(parameters, stage.Parameters);
            Assert.True(stage.Flops > stage.Parameters / 2, $"Stage {stage.Index} reports {stage.Flops} MACs.");
        }
    }

    [Fact]
    public void Stage1_FlopsEqualConvAndGemmMultiplyAccumulates()
    {
        // Default 32x32 input, width 8, branch 8, 10 classes:
        // stem 3->8 at 32x32, two 8->8 convs at 32x32, branch 8->8 at 16x16, Gemm 8->10.
        const long expected = (8L * 32 * 32 * 3 * 9) + (2 * 8L * 32 * 32 * 8 * 9) + (8L * 16 * 16 * 8 * 9) + (8 * 10);

        Assert.Equal(expected, SyntheticDfbNet.Build()[0].Flops);
    }

    [Fact]
    public void Stages_UseEveryRequiredOperator()
    {
        var opTypes = SyntheticDfbNet.Build()
            .SelectMany(s => ModelProto.Parser.ParseFrom(s.Model).Graph.Node)
            .Select(n => n.OpType)
            .ToHashSet();

        Assert.Superset(
            new HashSet<string>
            {
                "Conv", "BatchNormalization", "Relu", "Add", "AveragePool", "GlobalAveragePool", "Flatten", "Gemm",
            },
            opTypes);
    }

    [Fact]
    public void Build_SameSeedGivesIdenticalBytesAndOtherSeedDiffers()
    {
        var first = SyntheticDfbNet.Build(new SyntheticDfbNetOptions { Seed = 42 });
        var second = SyntheticDfbNet.Build(new SyntheticDfbNetOptions { Seed = 42 });
        var other = SyntheticDfbNet.Build(new SyntheticDfbNetOptions { Seed = 43 });

        for (var i = 0; i < first.Count; i++)
        {
            Assert.Equal(first[i].Model, second[i].Model);
            Assert.NotEqual(first[i].Model, other[i].Model);
        }
    }

    [Theory]
    [InlineData(12)]
    [InlineData(20)]
    [InlineData(0)]
    public void Build_RejectsInputSizesThatAreTooSmallOrNotDivisibleByEight(int inputSize)
    {
        Assert.Throws<ArgumentException>(() => SyntheticDfbNet.Build(new SyntheticDfbNetOptions { InputSize = inputSize }));
    }

    [Fact]
    public void Logits_GiveSoftmaxConfidencesBothBelowAndAboveTypicalExitThresholds()
    {
        // Images differ in brightness and contrast, as real ones do; i.i.d. noise images all
        // pool to nearly the same feature and so get nearly the same confidence per stage.
        var stages = SyntheticDfbNet.Build();
        var random = new Random(5);
        const int batch = 64, pixels = 3 * 32 * 32;
        var data = new float[batch * pixels];
        for (var b = 0; b < batch; b++)
        {
            var brightness = random.NextSingle();
            var contrast = random.NextSingle();
            for (var i = 0; i < pixels; i++)
            {
                data[(b * pixels) + i] = brightness + (contrast * (random.NextSingle() - 0.5f));
            }
        }

        var input = new TensorData(data, [batch, 3, 32, 32]);
        var confidences = new List<float>();
        foreach (var stage in stages)
        {
            var outputs = OrtTestRunner.Run(stage.Model, (stage.InputName, input));
            var logits = outputs[stage.LogitsName].Data;
            confidences.AddRange(
                Enumerable.Range(0, batch).Select(b => ReferenceOps.Softmax(logits.AsSpan(b * 10, 10)).Max()));
            if (stage.FeatureName is not null)
            {
                input = outputs[stage.FeatureName];
            }
        }

        Assert.Contains(confidences, c => c < 0.5f);
        Assert.Contains(confidences, c => c > 0.9f);
    }
}
