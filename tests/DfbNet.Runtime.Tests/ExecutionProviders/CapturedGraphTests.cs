using DfbNet.Core;
using DfbNet.Core.Onnx;
using DfbNet.Runtime.ExecutionProviders;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Runtime.Scheduling;
using Microsoft.Extensions.Time.Testing;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.Tests.ExecutionProviders;

/// <summary>
/// The captured-graph path (fixed buffers, features in pooled device buffers) on real CPU sessions with host memory
/// standing in for the GPU's: same events as the plain path, frames side by side, the CPU fallback, and the rule that a
/// capturing session only ever runs over its one binding.
/// </summary>
public sealed class CapturedGraphTests : IDisposable
{
    private readonly TestModelFolder _model = new(new SyntheticDfbNetOptions { InputSize = 32, Seed = 11, StageWidths = [8, 16, 32] });

    public void Dispose() => _model.Dispose();

    [Fact]
    public async Task CapturedStages_GiveTheSameEventsAsThePlainPath_OverOneFixedBinding()
    {
        var provider = new GraphCapturingProvider();
        var logger = new ListLogger();
        using var reference = EarlyExitEngine.Load(_model.Path, new EngineOptions { WarmupRuns = 0 });
        using var engine = EarlyExitEngine.Load(_model.Path, new EngineOptions { Providers = new([provider, new CpuExecutionProvider()]), WarmupRuns = 3 }, logger);

        Assert.True(engine.CapturesGraphs);
        Assert.False(engine.UsesIoBinding);
        Assert.All(engine.Stages, s => Assert.True(s.CapturesGraph));
        Assert.Equal(3, logger.Entries.Count(e => e.Id.Id == 111));

        // Per stage at load, for batch 1 and each batch bucket up to the default largest batch (2, 4, 8): the plain runs
        // before the capture, the captured run, the replay checked against them; then the engine's three warm-up replays.
        Assert.Equal(3 * (((FixedBindingRun.RunsBeforeCapture + 2) * 4) + 3), provider.Calls);
        for (var image = 0; image < 12; image++)
        {
            foreach (var mode in new[] { InferenceMode.Full, InferenceMode.FirstExit, InferenceMode.Refine })
            {
                await AssertSameEvents(engine, reference, image, mode);
            }
        }

        Assert.True(provider.Calls > 0);
        Assert.Equal(0, provider.Violations);
    }

    [Fact]
    public async Task CapturedStages_KeepEachFramesFeatures_WhenFramesRunSideBySide()
    {
        var provider = new GraphCapturingProvider();
        using var reference = EarlyExitEngine.Load(_model.Path, new EngineOptions { WarmupRuns = 0 });
        using var engine = EarlyExitEngine.Load(_model.Path, new EngineOptions { Providers = new([provider]), WarmupRuns = 2, Scheduler = new() { MaxAdmittedFrames = 1024 } });

        var expected = new List<ExitEvent>[24];
        for (var i = 0; i < expected.Length; i++)
        {
            expected[i] = await Collect(reference, i, InferenceMode.Full);
        }

        var actual = await Task.WhenAll(Enumerable.Range(0, expected.Length * 4).Select(i => Task.Run(() => Collect(engine, i % expected.Length, InferenceMode.Full))));
        for (var i = 0; i < actual.Length; i++)
        {
            AssertSame(expected[i % expected.Length], actual[i]);
        }

        Assert.Equal(0, provider.Violations);
    }

    [Fact]
    public async Task CapturedStages_RunBatchesThroughTheirBucketGraphs_WithBatchOneResults()
    {
        var provider = new GraphCapturingProvider();
        using var reference = EarlyExitEngine.Load(_model.Path, new EngineOptions { WarmupRuns = 0 });
        using var engine = EarlyExitEngine.Load(_model.Path, new EngineOptions { Providers = new([provider]), WarmupRuns = 1, Scheduler = new() { MaxBatchSize = 8, Executors = 1, MaxAdmittedFrames = 1024 } });
        Assert.True(engine.CapturesGraphs);
        Assert.All(engine.Stages, s => Assert.Equal(8, s.CapturedMaxBatch));
        Assert.All(engine.MaxBatchSizes, b => Assert.Equal(8, b));

        var expected = new List<ExitEvent>[24];
        for (var i = 0; i < expected.Length; i++)
        {
            expected[i] = await Collect(reference, i, InferenceMode.Full);
        }

        // Many callers at once on one executor: batches of up to 8, padded to their bucket (2, 4 or 8).
        var actual = await Task.WhenAll(Enumerable.Range(0, expected.Length * 4).Select(i => Task.Run(() => Collect(engine, i % expected.Length, InferenceMode.Full))));
        for (var i = 0; i < actual.Length; i++)
        {
            var want = expected[i % expected.Length];
            Assert.Equal(want.Select(e => (e.Kind, e.Exit)), actual[i].Select(e => (e.Kind, e.Exit)));
            for (var e = 0; e < want.Count; e++)
            {
                var (p, q) = (want[e].Prediction!.Probabilities, actual[i][e].Prediction!.Probabilities);
                Assert.All(Enumerable.Range(0, p.Length), k => Assert.Equal(p[k], q[k], 1e-5f));
            }
        }

        var stats = engine.Statistics.Snapshot();
        Assert.True(stats.StageFrames > stats.StageExecutions, "no batch ran");
        Assert.Equal(0, provider.Violations);
    }

    [Fact]
    public async Task CapturedStages_FallBackToTheCpu_WithTheSameEvents()
    {
        var provider = new GraphCapturingProvider();
        using var reference = EarlyExitEngine.Load(_model.Path, new EngineOptions { WarmupRuns = 0 });
        using var engine = EarlyExitEngine.Load(_model.Path, new EngineOptions
        {
            Providers = new([provider, new CpuExecutionProvider()]),
            WarmupRuns = 2,
            Clock = new FakeTimeProvider(),
            Breaker = new ProviderBreakerOptions { FailureRatio = 0.5, MinimumThroughput = 2, SamplingDuration = TimeSpan.FromSeconds(30), BreakDuration = TimeSpan.FromSeconds(10) },
        });

        await AssertSameEvents(engine, reference, 0, InferenceMode.Full);
        provider.Failing = true;
        for (var image = 1; image < 6; image++)
        {
            // Every stage fails on the GPU: features come to the host for the CPU session and go back to device buffers.
            await AssertSameEvents(engine, reference, image, InferenceMode.Full);
        }

        Assert.All(engine.Stages, s => Assert.True(s.OnFallback));
        provider.Failing = false;
        Assert.Equal(0, provider.Violations);
    }

    [Fact]
    public async Task StageThatCannotBeCaptured_TurnsCaptureOffForTheWholeModel()
    {
        var provider = new GraphCapturingProvider();
        provider.RefuseCaptureOf.Add("stage2.onnx");
        var logger = new ListLogger();
        using var reference = EarlyExitEngine.Load(_model.Path, new EngineOptions { WarmupRuns = 0 });
        using var engine = EarlyExitEngine.Load(_model.Path, new EngineOptions { Providers = new([provider, new CpuExecutionProvider()]), WarmupRuns = 1 }, logger);

        // Stage 2 runs on the provider without capture; a frame's feature cannot be half in fixed buffers, so no stage captures.
        Assert.False(engine.CapturesGraphs);
        Assert.All(engine.Stages, s => Assert.False(s.CapturesGraph));
        Assert.All(engine.Stages, s => Assert.Equal("FakeGPU", s.Provider));
        Assert.Contains(logger.Entries, e => e.Id.Id == 109 && e.Message.Contains("stage2.onnx", StringComparison.Ordinal));
        Assert.Contains(logger.Entries, e => e.Id.Id == 110 && e.Message.Contains("stage 2 runs on FakeGPU", StringComparison.Ordinal));
        await AssertSameEvents(engine, reference, 0, InferenceMode.Full);
        Assert.Equal(0, provider.Violations);
    }

    [Fact]
    public async Task StageWhoseReplayDoesNothing_IsNotCaptured()
    {
        var provider = new GraphCapturingProvider();
        provider.EmptyGraphOf.Add("stage3.onnx");
        var logger = new ListLogger();
        using var reference = EarlyExitEngine.Load(_model.Path, new EngineOptions { WarmupRuns = 0 });
        using var engine = EarlyExitEngine.Load(_model.Path, new EngineOptions { Providers = new([provider]), WarmupRuns = 1 }, logger);

        // The replay is checked against a plain run at load; one that leaves the outputs untouched does not pass.
        Assert.False(engine.CapturesGraphs);
        Assert.Contains(logger.Entries, e => e.Id.Id == 109 && e.Message.Contains("stage3.onnx", StringComparison.Ordinal) && e.Message.Contains("replay", StringComparison.Ordinal));
        await AssertSameEvents(engine, reference, 1, InferenceMode.Full);
    }

    [SkippableFact]
    public void CapturingCudaProvider_WithoutTheCudaRuntime_IsSkippedWithTheReason()
    {
        Skip.If(System.Runtime.InteropServices.NativeLibrary.TryLoad("libcudart.so.13", out _), "the CUDA runtime is installed here");
        var logger = new ListLogger();
        var chain = ExecutionProviderChain.Parse("cuda,cpu", new ExecutionProviderSettings { CudaGraphs = true });
        using var session = chain.CreateSession(Path.Combine(_model.Path, "stage1.onnx"), _ => { }, logger);

        Assert.Equal("CPU", session.Provider);
        Assert.Null(session.GraphStream);
        Assert.Contains(logger.Entries, e => e.Message.Contains("CUDA", StringComparison.Ordinal) && e.Message.Contains("libcudart.so.13", StringComparison.Ordinal));
    }

    [Fact]
    public void CapturedStage_RefusesPlainRuns()
    {
        using var engine = EarlyExitEngine.Load(_model.Path, new EngineOptions { Providers = new([new GraphCapturingProvider()]), WarmupRuns = 0 });
        var stage = engine.Stages[0];
        using var runOptions = new RunOptions();
        var ex = Assert.Throws<InvalidOperationException>(() => stage.Run(new float[stage.InputLength], 1, new float[stage.ClassCount], new float[stage.FeatureLength], runOptions));
        Assert.Contains(nameof(StageRunner.RunCapturedBatch), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Chain_TurnsGraphCaptureOnForTheGpuProviders_AndOffAgain()
    {
        var chain = ExecutionProviderChain.Parse("tensorrt,cuda,cpu", new ExecutionProviderSettings { CudaGraphs = true });
        Assert.True(chain.CapturesGraphs);
        Assert.Equal([true, true, false], chain.Providers.Select(p => p.CapturesGraphs));

        // DfbNet captures the graphs itself, on each session's own stream; ONNX Runtime's capture stays off.
        Assert.DoesNotContain("enable_cuda_graph", ((CudaExecutionProvider)chain.Providers[1]).ProviderOptions.Keys);
        Assert.DoesNotContain("user_compute_stream", ((CudaExecutionProvider)chain.Providers[1]).ProviderOptions.Keys);

        var plain = chain.WithoutGraphCapture();
        Assert.False(plain.CapturesGraphs);
        Assert.Equal(["TensorRT", "CUDA", "CPU"], plain.Providers.Select(p => p.Name));
        Assert.Equal([false, false, false], plain.Providers.Select(p => p.CapturesGraphs));
        Assert.True(ExecutionProviderChain.Parse("cuda,cpu").CapturesGraphs);
        Assert.False(ExecutionProviderChain.Parse("cuda,cpu", new ExecutionProviderSettings { CudaGraphs = false }).CapturesGraphs);
    }

    [Fact]
    public void SessionStream_IsNamedWithBothKeysOnnxRuntimeNeeds()
    {
        var options = new Dictionary<string, string>();
        GpuProviderLoading.AddStream(options, IntPtr.Zero);
        Assert.Empty(options);

        // ONNX Runtime takes the address from string options only when has_user_compute_stream is given too.
        GpuProviderLoading.AddStream(options, new IntPtr(0x7f00_1234_5678L));
        Assert.Equal("1", options["has_user_compute_stream"]);
        Assert.Equal("139638282147448", options["user_compute_stream"]);
    }

    [Fact]
    public void CudaProviderOptions_AddToAndOverrideTheDefaults_AndSurviveTurningCaptureOff()
    {
        var chain = ExecutionProviderChain.Parse("cuda", new ExecutionProviderSettings
        {
            CudaGraphs = true,
            CudaProviderOptions = new Dictionary<string, string> { ["prefer_nhwc"] = "1", ["cudnn_conv_algo_search"] = "HEURISTIC" },
        });
        foreach (var provider in new[] { chain.Providers[0], chain.WithoutGraphCapture().Providers[0] })
        {
            var options = ((CudaExecutionProvider)provider).ProviderOptions;
            Assert.Equal("1", options["prefer_nhwc"]);
            Assert.Equal("HEURISTIC", options["cudnn_conv_algo_search"]);
            Assert.Equal("0", options["device_id"]);
        }
    }

    [SkippableFact]
    public void CudaMemory_WithoutTheCudaRuntime_SaysWhatIsMissing()
    {
        Skip.If(System.Runtime.InteropServices.NativeLibrary.TryLoad("libcudart.so.13", out _), "the CUDA runtime is installed here");
        var ex = Assert.Throws<DeviceMemoryException>(() => new CudaMemory(0).Allocate(4));
        Assert.Contains("libcudart.so.13", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DeviceBuffers_GoBackToTheirPool_AndAreFreedOnce()
    {
        using var pool = new DeviceBufferPool(HostMemory.Instance, 16);
        using var stream = HostMemory.Instance.CreateStream();
        var first = pool.Rent();
        stream.Upload(first, Enumerable.Range(0, 16).Select(i => (float)i).ToArray());
        first.Release();
        var second = pool.Rent();
        Assert.Same(first, second);
        var copy = new float[16];
        stream.Download(copy, second);
        Assert.Equal(15f, copy[15]);
        second.Release();
        pool.Dispose();
        Assert.True(second.IsClosed);

        // A buffer released after its pool is gone is freed, not kept.
        using var pool2 = new DeviceBufferPool(HostMemory.Instance, 4);
        var late = pool2.Rent();
        pool2.Dispose();
        late.Release();
        Assert.True(late.IsClosed);
    }

    private static async Task AssertSameEvents(EarlyExitEngine engine, EarlyExitEngine reference, int image, InferenceMode mode) =>
        AssertSame(await Collect(reference, image, mode), await Collect(engine, image, mode));

    private static void AssertSame(List<ExitEvent> expected, List<ExitEvent> actual)
    {
        Assert.Equal(expected.Select(e => (e.Kind, e.Exit, e.Error)), actual.Select(e => (e.Kind, e.Exit, e.Error)));
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Prediction!.Probabilities, actual[i].Prediction!.Probabilities);
        }
    }

    private static async Task<List<ExitEvent>> Collect(EarlyExitEngine engine, int image, InferenceMode mode)
    {
        var source = ImageSource.Raw(CifarSlice.Hwc(image), 32, 32);
        var events = new List<ExitEvent>();
        await foreach (var e in engine.ClassifyAsync(new FrameRequest("f" + image, source, new ExitPolicy([0.6f, 0.7f, 0.5f]), mode, null, 0)))
        {
            events.Add(e);
        }

        return events;
    }
}
