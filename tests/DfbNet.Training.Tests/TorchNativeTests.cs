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

public sealed class ElfVersionPatcherTests
{
    [Fact]
    public void LibTorchSharpCopy_GetsItsGlibcxx3432RequirementMarkedWeakOnce()
    {
        var original = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
        var bytes = File.ReadAllBytes(original);
        var copy = (byte[])bytes.Clone();
        Assert.Equal(1, ElfVersionPatcher.MarkVersionWeak(copy, "GLIBCXX_3.4.32"));
        Assert.Equal(0, ElfVersionPatcher.MarkVersionWeak(copy, "GLIBCXX_3.4.32"));

        // Exactly one byte (the low byte of vna_flags) changes.
        Assert.Equal(1, bytes.Zip(copy).Count(p => p.First != p.Second));
        Assert.Equal(0, ElfVersionPatcher.MarkVersionWeak(copy, "GLIBCXX_9.9"));
    }

    [Fact]
    public void NonElfBytes_AreRefused()
    {
        Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.MarkVersionWeak(new byte[100], "GLIBCXX_3.4.32"));
    }
}
