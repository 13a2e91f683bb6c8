using DfbNet.Core;
using DfbNet.Runtime.ExecutionProviders;
using DfbNet.Runtime.Preprocessing;
using Microsoft.Extensions.Logging;

namespace DfbNet.Runtime.Tests.ExecutionProviders;

public sealed class ProviderChainTests : IDisposable
{
    private readonly TestModelFolder _model = new(new() { InputSize = 16, StageWidths = [4, 8], BranchWidth = 4 });

    public void Dispose() => _model.Dispose();

    /// <summary>This machine has no GPU and no CUDA or TensorRT libraries: the real providers fail to load and say why.</summary>
    [Fact]
    public void UnavailableGpuProviders_AreSkippedWithALoggedReason_AndCpuServes()
    {
        var logger = new ListLogger();
        using var engine = EarlyExitEngine.Load(_model.Path, new EngineOptions { Providers = ExecutionProviderChain.Parse("tensorrt,cuda,cpu"), WarmupRuns = 1 }, logger);

        Assert.Equal("CPU", engine.ExecutionProvider);
        Assert.All(engine.Stages, s => Assert.Equal("CPU", s.Provider));
        // One short warning per provider, not one per stage; the full reason of every skip at Debug.
        var skipped = logger.Entries.Where(e => e.Id.Id == 100).Select(e => e.Message).ToList();
        Assert.Equal(2, skipped.Count);
        Assert.Contains(skipped, m => m.StartsWith("Execution provider TensorRT skipped", StringComparison.Ordinal) && m.Length > 60);
        Assert.Contains(skipped, m => m.StartsWith("Execution provider CUDA skipped", StringComparison.Ordinal) && m.Length > 60);
        Assert.All(skipped, m => Assert.DoesNotContain('\n', m));
        Assert.All(logger.Entries.Where(e => e.Id.Id == 100), e => Assert.Equal(LogLevel.Warning, e.Level));
        Assert.Equal(2 * engine.ExitCount, logger.Entries.Count(e => e.Id.Id == 113 && e.Level == LogLevel.Debug));
        Assert.Contains(logger.Entries, e => e.Id.Id == 108 && e.Message.Contains("runs on CPU", StringComparison.Ordinal));
    }

    [Fact]
    public void UnavailableTensorRt_LeavesNoEngineCacheFolderBehind()
    {
        var cache = Path.Combine(Path.GetTempPath(), "dfbnet-trt-" + Guid.NewGuid().ToString("N"));
        var chain = ExecutionProviderChain.Parse("tensorrt,cpu", new ExecutionProviderSettings { TensorRtEngineCachePath = cache });
        using var engine = EarlyExitEngine.Load(_model.Path, new EngineOptions { Providers = chain, WarmupRuns = 0 });
        Assert.Equal("CPU", engine.ExecutionProvider);
        Assert.False(Directory.Exists(cache));
    }

    [Theory]
    [InlineData("cpu", new[] { "CPU" })]
    [InlineData(" CUDA , cpu", new[] { "CUDA", "CPU" })]
    [InlineData("trt,cuda,cpu", new[] { "TensorRT", "CUDA", "CPU" })]
    public void Parse_ReadsProviderLists(string text, string[] names)
    {
        Assert.Equal(names, ExecutionProviderChain.Parse(text).Providers.Select(p => p.Name));
    }

    [Theory]
    [InlineData("")]
    [InlineData("cuda,vulkan")]
    public void Parse_RejectsUnknownOrEmptyLists(string text)
    {
        Assert.Throws<ArgumentException>(() => ExecutionProviderChain.Parse(text));
    }

    [Fact]
    public void ChainWithoutAWorkingProvider_FailsNamingEachReason()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => EarlyExitEngine.Load(_model.Path, new EngineOptions { Providers = ExecutionProviderChain.Parse("cuda"), WarmupRuns = 0 }));
        Assert.Contains("CUDA:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IoBindingPath_GivesTheSameLogitsAsThePlainPath()
    {
        using var plain = EarlyExitEngine.Load(_model.Path, new EngineOptions { UseIoBinding = false, WarmupRuns = 0 });
        using var bound = EarlyExitEngine.Load(_model.Path, new EngineOptions { UseIoBinding = true, WarmupRuns = 0 });
        Assert.False(plain.UsesIoBinding);
        Assert.True(bound.UsesIoBinding);
        var policy = new ExitPolicy([1f, 1f]);
        for (var i = 0; i < 10; i++)
        {
            var image = ImageSource.Raw(CifarSlice.Hwc(i), 32, 32);
            var a = new List<ExitEvent>();
            var b = new List<ExitEvent>();
            await foreach (var e in plain.ClassifyAsync(new FrameRequest("p", image, policy, InferenceMode.Full, null, 0)))
            {
                a.Add(e);
            }

            await foreach (var e in bound.ClassifyAsync(new FrameRequest("b", image, policy, InferenceMode.Full, null, 0)))
            {
                b.Add(e);
            }

            Assert.Equal(a.Count, b.Count);
            for (var k = 0; k < a.Count; k++)
            {
                Assert.Equal(a[k].Prediction!.Probabilities, b[k].Prediction!.Probabilities);
            }
        }
    }
}
