using DfbNet.Training.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace DfbNet.Training.Tests;

public sealed class TorchNativeTests
{
    [Fact]
    public void EnsureLoaded_LetsTorchSharpTrainALinearModel()
    {
        TorchNative.EnsureLoaded();
        using var scope = NewDisposeScope();
        random.manual_seed(1);
        var x = randn(64, 4);
        var y = x.matmul(tensor(new float[] { 1, -2, 3, 0.5f }).reshape(4, 1));
        var w = new TorchSharp.Modules.Parameter(zeros(4, 1));
        var optimizer = optim.SGD([w], 0.1);
        var first = 0f;
        var last = 0f;
        for (var i = 0; i < 50; i++)
        {
            optimizer.zero_grad();
            var loss = nn.functional.mse_loss(x.matmul(w), y);
            loss.backward();
            optimizer.step();
            last = loss.item<float>();
            if (i == 0)
            {
                first = last;
            }
        }

        Assert.True(last < first * 0.01f, $"loss {first} -> {last}; native: {TorchNative.Description}");
    }
}
