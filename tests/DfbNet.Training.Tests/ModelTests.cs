using DfbNet.Training.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace DfbNet.Training.Tests;

public sealed class ModelTests(ITestOutputHelper output)
{
    [Fact]
    public void PaperPreset_HasTheParameterCountsOfTable4WithinFivePercent()
    {
        TestData.Slice();
        using var model = new DfbNetModel(DfbNetConfig.Paper());
        var main = DfbNetModel.Count(model.MainParameters());
        var whole = DfbNetModel.Count(model.parameters());
        output.WriteLine($"paper preset: main {main:N0}, whole {whole:N0} parameters");

        // Table 4: 81.1M and 106.2M; the reference PyTorch build of this topology has 81.5M and 106.7M.
        Assert.InRange(main, 81.1e6 * 0.95, 81.1e6 * 1.05);
        Assert.InRange(whole, 106.2e6 * 0.95, 106.2e6 * 1.05);
        Assert.InRange(main, 81.4e6, 81.6e6);
        Assert.InRange(whole, 106.6e6, 106.8e6);
        Assert.Equal(3, model.ExitCount);

        // Depths: 8N+2 = 50 layers on the main branch.
        var weightedLayers = 1 + (2 * model.Segments.Sum(s => s.Blocks.Count)) + 1;
        Assert.Equal(50, weightedLayers);
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("edge")]
    public void Stages_ChainToTheFullForwardAndHaveTheTableOneShapes(string preset)
    {
        TestData.Slice();
        using var scope = NewDisposeScope();
        var config = DfbNetConfig.FromPreset(preset);
        using var model = new DfbNetModel(config);
        model.eval();
        random.manual_seed(2);
        var x = randn(2, 3, config.TestSize, config.TestSize);
        var all = model.forward(x);
        Assert.Equal(3, all.Length);
        var input = x;
        for (var s = 0; s < model.ExitCount; s++)
        {
            var (logits, feature) = model.ForwardStage(s, input);
            Assert.Equal([2L, 10], logits.shape);
            Assert.True(logits.allclose(all[s], rtol: 0, atol: 1e-6));
            input = feature;
        }

        // Conv5_x output: 128k channels at a eighth of the input size.
        Assert.Equal([2L, config.MainWidth(3), config.TestSize / 8, config.TestSize / 8], input.shape);
        Assert.True(model.ForwardMain(x).allclose(all[2], rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void EdgePreset_IsSmallEnoughForOneCore()
    {
        TestData.Slice();
        using var model = new DfbNetModel(DfbNetConfig.Edge());
        Assert.Equal(2_686_682, DfbNetModel.Count(model.MainParameters()));
        Assert.Equal(3_063_470, DfbNetModel.Count(model.parameters()));
    }

    [Fact]
    public void EdgePreset_FirstExitCostsASmallPartOfTheMainBranch()
    {
        TestData.Slice();
        using var model = new DfbNetModel(DfbNetConfig.Edge());
        model.eval();
        var stages = Export.OnnxStageExporter.ExportStages(model);

        // Multiply-adds per stage (trunk segment + exit head): stem and Conv2_x block 1 + a k=0.5 branch first; then the
        // rest of Conv2_x and all of Conv3_x + a k=1 branch.
        Assert.Equal([8.2, 30.6, 65.8], stages.Select(s => Math.Round(s.Flops / 1e6, 1)));
        Assert.Equal(16, model.Config.MainWidth(0));
        Assert.Equal(256, model.Config.MainWidth(3));
        Assert.Equal([16, 32, 64], Enumerable.Range(1, 3).Select(model.Config.Branches[0].Width));
    }

    [Theory]
    [InlineData(new[] { 16, 48, 96 })]
    [InlineData(new[] { 16, 0, 96, 192 })]
    public void MainWidths_MustNameFourPositiveWidths(int[] widths)
    {
        var config = DfbNetConfig.Edge() with { MainWidths = widths };
        var error = Assert.Throws<ArgumentException>(config.Validate);
        Assert.Contains("MainWidths", error.Message, StringComparison.Ordinal);
    }
}
