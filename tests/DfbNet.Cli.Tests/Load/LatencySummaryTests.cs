using DfbNet.Cli.Load;

namespace DfbNet.Cli.Tests.Load;

public sealed class LatencySummaryTests
{
    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    [InlineData(7, 7)]
    [InlineData(50, 50)]
    [InlineData(50.5, 51)]
    [InlineData(90, 90)]
    [InlineData(99, 99)]
    [InlineData(99.1, 100)]
    [InlineData(100, 100)]
    public void Percentile_IsTheNearestRank(double p, double expected)
    {
        // 1..100: the nearest-rank p-th percentile is the smallest value with at least p% of the values at or below it.
        // p = 7 is the case a p / 100 * n rank gets wrong (0.07 * 100 > 7 in floating point).
        var values = Enumerable.Range(1, 100).Select(v => (double)v).ToArray();
        Assert.Equal(expected, LatencySummary.Percentile(values, p));
    }

    [Fact]
    public void Percentile_FewSamples_RoundsTheRankUp()
    {
        double[] values = [10, 20, 30];
        Assert.Equal(20, LatencySummary.Percentile(values, 50));
        Assert.Equal(30, LatencySummary.Percentile(values, 67));
        Assert.Equal(20, LatencySummary.Percentile(values, 66));
        Assert.Equal(30, LatencySummary.Percentile(values, 99));
        Assert.True(double.IsNaN(LatencySummary.Percentile([], 50)));
    }

    [Fact]
    public void Of_SortsTheSamplesAndGivesNullsWhenEmpty()
    {
        var summary = LatencySummary.Of([5, 1, 4, 2, 3]);
        Assert.Equal(new LatencySummary(5, 3, 3, 5, 5, 5), summary);
        Assert.Equal(new LatencySummary(0, null, null, null, null, null), LatencySummary.Of([]));
    }
}
