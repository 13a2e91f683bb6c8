using DfbNet.Core;
using DfbNet.Core.Manifest;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Runtime.Tests.Onnx;
using DfbNet.Testing;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.Tests.Engine;

public sealed class EarlyExitEngineTests : IDisposable
{
    private readonly TestModelFolder _model = new();
    private readonly EarlyExitEngine _engine;

    public EarlyExitEngineTests()
    {
        _engine = EarlyExitEngine.Load(_model.Path, new EngineOptions { IntraOpThreads = 1, WarmupRuns = 2 });
    }

    public void Dispose()
    {
        _engine.Dispose();
        _model.Dispose();
    }

    [Fact]
    public void Load_ReadsStagesShapesAndWarmsUpEstimates()
    {
        Assert.Equal(3, _engine.ExitCount);
        Assert.Equal("CPU", _engine.ExecutionProvider);
        Assert.Equal([3L, 32, 32], _engine.Stages[0].InputShape);
        Assert.Equal(_engine.Stages[0].FeatureShape, _engine.Stages[1].InputShape);
        Assert.Null(_engine.Stages[2].FeatureShape);
        for (var s = 0; s < 3; s++)
        {
            Assert.True(_engine.Latency.SampleCount(s) >= 1);
            Assert.True(_engine.Latency.Estimate(s) > TimeSpan.Zero);
        }
    }

    [Fact]
    public async Task WarmUpFrames_RunTheWholeFramePath_AndAreCountedNowhere()
    {
        using var engine = EarlyExitEngine.Load(_model.Path, new EngineOptions { IntraOpThreads = 1, WarmupRuns = 1 });
        var samples = Enumerable.Range(0, 3).Select(engine.Latency.SampleCount).ToArray();
        await engine.WarmUpFramesAsync(2);

        Assert.Equal(0, engine.FramesCompleted);
        Assert.Equal(0, engine.FramesCancelled);
        Assert.Equal(0, engine.InFlightFrames);
        var stats = engine.Statistics.Snapshot();
        Assert.Equal((0, 0, 0, 0L), (stats.SuccessCount, stats.InputCount, stats.InferCount, stats.StageExecutions));
        Assert.Equal(samples, Enumerable.Range(0, 3).Select(engine.Latency.SampleCount));

        // A client's frame after them is counted as before.
        await foreach (var _ in engine.ClassifyAsync(new FrameRequest("f", ImageSource.Raw(CifarSlice.Hwc(0), 32, 32), engine.DefaultPolicy, InferenceMode.Full, null, 0)))
        {
        }

        Assert.Equal(1, engine.FramesCompleted);
        Assert.Equal(1, engine.Statistics.Snapshot().SuccessCount);
    }

    /// <summary>Runs every stage by hand with ONNX Runtime and applies Algorithm 1 to compare with the engine.</summary>
    [Theory]
    [InlineData(0.5f, 0.5f, 0.0f)]
    [InlineData(0.9f, 0.9f, 0.0f)]
    [InlineData(0.99f, 0.99f, 0.99f)]
    [InlineData(0.7f, 0.6f, 0.75f)]
    public async Task FirstExit_EqualsReferenceComputation(float p1, float p2, float p3)
    {
        var policy = new ExitPolicy([p1, p2, p3]);
        var exitsSeen = new HashSet<int>();
        for (var i = 0; i < 40; i++)
        {
            var hwc = CifarSlice.Hwc(i);
            var reference = ReferenceProbabilities(hwc);
            var (expectedClass, expectedExit) = policy.Decide(reference);
            var events = await Collect(new FrameRequest($"f{i}", ImageSource.Raw(hwc, 32, 32), policy, InferenceMode.FirstExit, null, 0));

            var final = events[^1];
            Assert.True(final.IsFinal);
            Assert.Equal(expectedClass, final.Prediction!.ClassIndex);
            Assert.Equal(expectedExit, final.Exit);
            Assert.Equal(expectedExit == 0 ? ExitKind.Fused : ExitKind.EarlyExit, final.Kind);
            exitsSeen.Add(expectedExit);

            // Each exit's own probabilities equal the hand-run stage's softmax.
            foreach (var e in events.Where(e => e.Exit > 0))
            {
                OrtTestRunner.AssertClose(reference[e.Exit - 1], e.Prediction!.Probabilities, 1e-5f);
            }

            Assert.Equal(events.Select(e => e.Exit).Where(x => x > 0), Enumerable.Range(1, events.Count(e => e.Exit > 0)));
        }

        Assert.NotEmpty(exitsSeen);
    }

    [Fact]
    public async Task Full_EmitsEveryExitThenFusionOfAll()
    {
        var hwc = CifarSlice.Hwc(3);
        var reference = ReferenceProbabilities(hwc);
        var events = await Collect(new FrameRequest("x", ImageSource.Raw(hwc, 32, 32), new ExitPolicy([0f, 0f, 0f]), InferenceMode.Full, TimeSpan.FromTicks(1), 0));

        Assert.Equal([1, 2, 3, 0], events.Select(e => e.Exit));
        Assert.Equal(ExitKind.Fused, events[^1].Kind);
        var mean = new float[10];
        for (var k = 0; k < 10; k++)
        {
            mean[k] = (reference[0][k] + reference[1][k] + reference[2][k]) / 3;
        }

        OrtTestRunner.AssertClose(mean, events[^1].Prediction!.Probabilities, 1e-5f);
    }

    [Fact]
    public async Task ServerTime_GrowsWithExitIndex()
    {
        var events = await Collect(new FrameRequest("t", ImageSource.Raw(CifarSlice.Hwc(0), 32, 32), new ExitPolicy([1f, 1f, 1f]), InferenceMode.FirstExit, null, TimeProvider.System.GetTimestamp()));
        var times = events.Where(e => e.Exit > 0).Select(e => e.ServerTime).ToList();
        Assert.Equal(3, times.Count);
        Assert.True(times[0] < times[1] && times[1] < times[2], string.Join(", ", times));
    }

    [Fact]
    public async Task EncodedPng_GivesSameResultAsRawPixels()
    {
        var hwc = CifarSlice.Hwc(5);
        var png = ImageEncoding.EncodePng(hwc, 32, 32);
        var policy = new ExitPolicy([1f, 1f, 1f]);
        var fromRaw = await Collect(new FrameRequest("r", ImageSource.Raw(hwc, 32, 32), policy, InferenceMode.Full, null, 0));
        var fromPng = await Collect(new FrameRequest("p", ImageSource.Encoded(png), policy, InferenceMode.Full, null, 0));
        for (var i = 0; i < fromRaw.Count; i++)
        {
            Assert.Equal(fromRaw[i].Prediction!.Probabilities, fromPng[i].Prediction!.Probabilities);
        }
    }

    [Fact]
    public async Task CorruptJpeg_YieldsOneInvalidArgumentErrorEvent()
    {
        var jpeg = ImageEncoding.EncodeJpeg(CifarSlice.Hwc(1), 32, 32);
        var events = await Collect(new FrameRequest("bad", ImageSource.Encoded(jpeg.AsMemory(0, 300)), _engine.DefaultPolicy, InferenceMode.FirstExit, null, 0));
        var e = Assert.Single(events);
        Assert.Equal(ExitKind.Error, e.Kind);
        Assert.Equal(FrameErrorCode.InvalidArgument, e.ErrorCode);
        Assert.True(e.IsFinal);
        Assert.Equal("bad", e.FrameId);
    }

    [Fact]
    public async Task RawBufferOfWrongSize_YieldsErrorEvent()
    {
        var events = await Collect(new FrameRequest("raw", ImageSource.Raw(new byte[100], 32, 32), _engine.DefaultPolicy, InferenceMode.FirstExit, null, 0));
        var e = Assert.Single(events);
        Assert.Equal(FrameErrorCode.InvalidArgument, e.ErrorCode);
        Assert.Contains("3072", e.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancellation_StopsTheFrameAndIsCounted()
    {
        using var cts = new CancellationTokenSource();
        var request = new FrameRequest("c", ImageSource.Raw(CifarSlice.Hwc(2), 32, 32), new ExitPolicy([1f, 1f, 1f]), InferenceMode.FirstExit, null, 0);
        var cancelled = _engine.FramesCancelled;
        var completed = _engine.FramesCompleted;
        await using var enumerator = _engine.ClassifyAsync(request, cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await enumerator.MoveNextAsync());
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await enumerator.MoveNextAsync());
        await enumerator.DisposeAsync();

        // The frame was abandoned at its next step, or (on a fast machine) had already ended in the scheduler: counted once either way.
        await Eventually.HoldsAsync(() => _engine.InFlightFrames == 0);
        Assert.Equal(cancelled + completed + 1, _engine.FramesCancelled + _engine.FramesCompleted);
    }

    [Fact]
    public void ResolvePolicy_RejectsUnknownPresetAndBadThresholds()
    {
        Assert.Equal([0.99f, 0.99f, 0.75f], _engine.ResolvePolicy("accurate", null).Thresholds);
        Assert.Contains("nope", Assert.Throws<ArgumentException>(() => _engine.ResolvePolicy("nope", null)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => _engine.ResolvePolicy(null, [0.5f]));
        Assert.Throws<ArgumentException>(() => _engine.ResolvePolicy(null, [0.5f, 2f, 0.1f]));
    }

    private async Task<List<ExitEvent>> Collect(FrameRequest request)
    {
        var list = new List<ExitEvent>();
        await foreach (var e in _engine.ClassifyAsync(request))
        {
            list.Add(e);
        }

        return list;
    }

    private List<float[]> ReferenceProbabilities(byte[] hwc)
    {
        var input = new float[3 * 32 * 32];
        _engine.Preprocessor.Process(ImageSource.Raw(hwc, 32, 32), input);
        var result = new List<float[]>();
        var feature = new TensorData(input, [1, 3, 32, 32]);
        for (var s = 0; s < 3; s++)
        {
            var spec = _engine.Manifest.Stages[s];
            var outputs = OrtTestRunner.Run(File.ReadAllBytes(Path.Combine(_model.Path, spec.File)), (spec.Input, feature));
            var p = new float[10];
            ExitPolicy.Softmax(outputs[spec.LogitsOutput].Data, p);
            result.Add(p);
            if (spec.FeatureOutput is not null)
            {
                feature = outputs[spec.FeatureOutput];
            }
        }

        return result;
    }
}

public sealed class EngineLoadTests
{
    [Fact]
    public void StageThatDoesNotChain_FailsNamingTheStageInput()
    {
        using var a = new TestModelFolder(new() { InputSize = 16, StageWidths = [4, 8, 8], BranchWidth = 4 });
        using var b = new TestModelFolder(new() { InputSize = 16, StageWidths = [4, 6, 8], BranchWidth = 4 });

        // Stage 3 of b expects a 6-channel feature; a's stage 2 gives 8.
        File.Copy(Path.Combine(b.Path, "stage3.onnx"), Path.Combine(a.Path, "stage3.onnx"), overwrite: true);
        var ex = Assert.Throws<ManifestException>(() => EarlyExitEngine.Load(a.Path));
        Assert.Equal("stages[2].input", ex.Field);
    }

    [Fact]
    public void WrongInputSize_FailsNamingStageOneInput()
    {
        using var a = new TestModelFolder(new() { InputSize = 16, StageWidths = [4, 8], BranchWidth = 4 });
        var path = Path.Combine(a.Path, ModelManifest.FileName);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"width\": 16", "\"width\": 24", StringComparison.Ordinal));
        var ex = Assert.Throws<ManifestException>(() => EarlyExitEngine.Load(a.Path));
        Assert.Equal("stages[0].input", ex.Field);
    }

    [Fact]
    public void NotAnOnnxFile_FailsNamingTheStageFile()
    {
        using var a = new TestModelFolder(new() { InputSize = 16, StageWidths = [4, 8], BranchWidth = 4 });
        File.WriteAllText(Path.Combine(a.Path, "stage2.onnx"), "not a model");
        var ex = Assert.Throws<ManifestException>(() => EarlyExitEngine.Load(a.Path));
        Assert.Equal("stages[1].file", ex.Field);
    }
}
