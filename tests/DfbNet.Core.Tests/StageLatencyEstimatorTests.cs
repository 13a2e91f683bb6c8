using DfbNet.Core;
using Microsoft.Extensions.Time.Testing;

namespace DfbNet.Core.Tests;

public sealed class StageLatencyEstimatorTests
{
    private readonly FakeTimeProvider _clock = new();

    [Fact]
    public void Estimate_IsZeroBeforeSamples_ThenMeanOfFirstSamples()
    {
        var est = new StageLatencyEstimator(2, smoothing: 0.1, clock: _clock);
        Assert.Equal(TimeSpan.Zero, est.Estimate(0));
        est.Record(0, TimeSpan.FromMilliseconds(10));
        est.Record(0, TimeSpan.FromMilliseconds(20));
        Assert.Equal(TimeSpan.FromMilliseconds(15), est.Estimate(0));
        Assert.Equal(2, est.SampleCount(0));
        Assert.Equal(0, est.SampleCount(1));
    }

    [Fact]
    public void Estimate_FollowsMovingAverageAfterWarmup()
    {
        var est = new StageLatencyEstimator(1, smoothing: 0.5, clock: _clock);
        est.Record(0, TimeSpan.FromMilliseconds(10)); // 10
        est.Record(0, TimeSpan.FromMilliseconds(20)); // weight max(0.5, 1/2) = 0.5: 15
        est.Record(0, TimeSpan.FromMilliseconds(29)); // weight 0.5: 22
        Assert.Equal(TimeSpan.FromMilliseconds(22), est.Estimate(0));
    }

    [Fact]
    public void OneOutlierRun_CountsAsTwiceTheEstimate_ASustainedSlowdownIsStillFollowed()
    {
        var est = new StageLatencyEstimator(1, smoothing: 0.1, clock: _clock);
        for (var i = 0; i < 20; i++)
        {
            est.Record(0, TimeSpan.FromMilliseconds(0.2));
        }

        // A run preempted for 5 ms: as if it had taken 0.4 ms, so the estimate rises by a tenth of 0.2 ms, not to 0.68 ms.
        est.Record(0, TimeSpan.FromMilliseconds(5));
        Assert.InRange(est.Estimate(0).TotalMilliseconds, 0.219, 0.221);

        // The machine really is three times slower: within 20 runs the estimate has caught up.
        for (var i = 0; i < 20; i++)
        {
            est.Record(0, TimeSpan.FromMilliseconds(0.6));
        }

        Assert.InRange(est.Estimate(0).TotalMilliseconds, 0.5, 0.6);
    }

    [Fact]
    public void Estimate_IsPerBatchBucket_AndScalesFromTheNearestMeasuredOne()
    {
        var est = new StageLatencyEstimator(1, clock: _clock);
        est.Record(0, TimeSpan.FromMilliseconds(2), batch: 1);
        est.Record(0, TimeSpan.FromMilliseconds(8), batch: 8);

        Assert.Equal(TimeSpan.FromMilliseconds(2), est.Estimate(0, 1));
        Assert.Equal(TimeSpan.FromMilliseconds(8), est.Estimate(0, 8));

        // Batch 2 has no samples: batch 1's time per image, the nearer and the smaller.
        Assert.Equal(TimeSpan.FromMilliseconds(4), est.Estimate(0, 2));

        // Batch 16: batch 8's time per image (1 ms).
        Assert.Equal(TimeSpan.FromMilliseconds(16), est.Estimate(0, 16));
        Assert.Equal(2, est.SampleCount(0));
    }

    [Fact]
    public void Estimate_RefreshedByRunsOfAnyCaller_AndAStaleOneDecaysToItsFloor()
    {
        var est = new StageLatencyEstimator(1, smoothing: 0.5, clock: _clock, decayHalfLife: TimeSpan.FromSeconds(1));
        est.Record(0, TimeSpan.FromMilliseconds(1));

        // A burst raises the estimate ...
        for (var i = 0; i < 10; i++)
        {
            est.Record(0, TimeSpan.FromMilliseconds(7));
        }

        Assert.InRange(est.Estimate(0).TotalMilliseconds, 6.9, 7.0);

        // ... and with no run since (every frame cut before this stage), it returns toward the idle value.
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.InRange(est.Estimate(0).TotalMilliseconds, 3.9, 4.0);
        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.InRange(est.Estimate(0).TotalMilliseconds, 1.0, 1.2);

        // A fresh measurement moves the decayed estimate, not the stale one.
        est.Record(0, TimeSpan.FromMilliseconds(2));
        Assert.InRange(est.Estimate(0).TotalMilliseconds, 1.5, 1.6);
    }
}
