using DfbNet.Core;

namespace DfbNet.Core.Tests;

public sealed class StageLatencyEstimatorTests
{
    [Fact]
    public void Estimate_IsZeroBeforeSamples_ThenMeanOfFirstSamples()
    {
        var est = new StageLatencyEstimator(2, smoothing: 0.1);
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
        var est = new StageLatencyEstimator(1, smoothing: 0.5);
        est.Record(0, TimeSpan.FromMilliseconds(10)); // 10
        est.Record(0, TimeSpan.FromMilliseconds(20)); // weight max(0.5, 1/2) = 0.5: 15
        est.Record(0, TimeSpan.FromMilliseconds(35)); // weight 0.5: 25
        Assert.Equal(TimeSpan.FromMilliseconds(25), est.Estimate(0));
    }
}
