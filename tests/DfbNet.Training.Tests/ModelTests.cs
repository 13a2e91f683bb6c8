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
        Assert.Equal([2L, 128 * config.Widen, config.TestSize / 8, config.TestSize / 8], input.shape);
        Assert.True(model.ForwardMain(x).allclose(all[2], rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void EdgePreset_IsSmallEnoughForOneCore()
    {
        TestData.Slice();
        using var model = new DfbNetModel(DfbNetConfig.Edge());
        Assert.InRange(DfbNetModel.Count(model.MainParameters()), 1.0e6, 1.5e6);
        Assert.InRange(DfbNetModel.Count(model.parameters()), 1.5e6, 2.2e6);
    }
}
