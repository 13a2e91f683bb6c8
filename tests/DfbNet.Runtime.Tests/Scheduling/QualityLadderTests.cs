using DfbNet.Core;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Runtime.Scheduling;

namespace DfbNet.Runtime.Tests.Scheduling;

public sealed class QualityLadderTests : IDisposable
{
    private readonly TestModelFolder _model = new();

    public void Dispose() => _model.Dispose();

    [Fact]
    public async Task UnderLoad_FramesRunTheRungsPreset_AndEventsSaySo()
    {
        using var engine = EarlyExitEngine.Load(_model.Path, new EngineOptions
        {
            WarmupRuns = 1,
            Scheduler = new() { MaxAdmittedFrames = 4, QualityLadder = [new QualityRung(0.25, "fast"), new QualityRung(0.75, "nope")] },
        });

        // Idle: the requested preset answers.
        Assert.All(await Classify(engine, engine.ResolvePolicy("accurate", null)), e => Assert.Equal("accurate", e.Preset));

        // One other frame admitted: a quarter of the bound, the first rung.
        var other = new AdmissionClient();
        Assert.True(engine.Admission.TryAdmit(other, out _));
        Assert.All(await Classify(engine, engine.ResolvePolicy("accurate", null)), e => Assert.Equal("fast", e.Preset));

        // Explicit thresholds are the client's own: kept.
        Assert.All(await Classify(engine, engine.ResolvePolicy(null, [0.99f, 0.99f, 0.99f])), e => Assert.Null(e.Preset));
        engine.Admission.Release(other);
    }

    [Fact]
    public void ForLoad_PicksTheHighestRungReached()
    {
        var manifest = Core.Manifest.ManifestLoader.LoadFolder(_model.Path);
        var policies = new ModelPolicies("tiny", manifest, [new QualityRung(0.8, "fast"), new QualityRung(0.5, "balanced")], Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var accurate = policies.Resolve("accurate", null);
        Assert.Equal("accurate", policies.ForLoad(accurate, 0.49).Preset);
        Assert.Equal("balanced", policies.ForLoad(accurate, 0.5).Preset);
        Assert.Equal("fast", policies.ForLoad(accurate, 0.95).Preset);
        Assert.Same(accurate, policies.Resolve("accurate", null));
    }

    private static async Task<List<ExitEvent>> Classify(EarlyExitEngine engine, ExitPolicy policy)
    {
        var list = new List<ExitEvent>();
        await foreach (var e in engine.ClassifyAsync(new FrameRequest("f", ImageSource.Raw(CifarSlice.Hwc(3), 32, 32), policy, InferenceMode.Full, null, 0)))
        {
            list.Add(e);
        }

        return list;
    }
}
