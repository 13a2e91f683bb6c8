using DfbNet.Cli.Load;

namespace DfbNet.Cli.Tests.Load;

public sealed class RateSweepTests
{
    [Fact]
    public void Rates_AreGeometricFromStartToStop()
    {
        Assert.True(RateSweep.TryParse("10:1000:3", out var sweep, out _));
        Assert.Equal([10, 100, 1000], sweep!.Rates.Select(r => Math.Round(r, 9)));
        Assert.True(RateSweep.TryParse("20:320:5", out sweep, out _));
        Assert.Equal([20, 40, 80, 160, 320], sweep!.Rates.Select(r => Math.Round(r, 9)));
        Assert.Equal(320, sweep.Rates[^1]);
        Assert.True(RateSweep.TryParse("7:7:1", out sweep, out _));
        Assert.Equal([7.0], sweep!.Rates);
    }

    [Theory]
    [InlineData("5:1:x", "is not START:STOP:STEPS")]
    [InlineData("5:1", "is not START:STOP:STEPS")]
    [InlineData("0:10:3", "START must be a positive rate.")]
    [InlineData("10:5:3", "STOP must be at least START.")]
    [InlineData("10:20:0", "STEPS must be an integer from 1 to 100.")]
    [InlineData("10:20:1", "one step needs STOP equal to START.")]
    public void TryParse_BadSweep_NamesTheOption(string text, string message)
    {
        Assert.False(RateSweep.TryParse(text, out var sweep, out var error));
        Assert.Null(sweep);
        Assert.StartsWith($"--sweep '{text}'", error, StringComparison.Ordinal);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Capacity_IsTheHighestRateUnderTheBoundThatRefusedAndDroppedNothing()
    {
        LoadResult[] steps =
        [
            Step(10, p99: 5, refused: 0, dropped: 0),
            Step(20, p99: 8, refused: 0, dropped: 0),
            Step(40, p99: 60, refused: 0, dropped: 0),
            Step(80, p99: 9, refused: 3, dropped: 0),
            Step(160, p99: 9, refused: 0, dropped: 2),
        ];
        Assert.Equal(20, RateSweep.Capacity(steps, 50));
        Assert.Equal(40, RateSweep.Capacity(steps, 61));
        Assert.Null(RateSweep.Capacity(steps, 5));
    }

    private static LoadResult Step(double rate, double p99, int refused, int dropped)
    {
        var settings = new LoadRunSettings("native", "s", "m", 1, rate, rate, "fixed", 1, 1, 0, 0, [0], "first-exit", "queue", false, "png", "d", 1, 1);
        var latency = new LatencySummary(1, p99, p99, p99, p99, p99);
        var empty = new Dictionary<string, int>();
        return new LoadResult(
            settings,
            new LoadCounts(10, 10, 0, 10 - refused - dropped, 0, refused, dropped, 0, 0, 0, 0),
            new LoadRates(rate, rate, rate, rate),
            latency, latency, latency, latency, LatencySummary.Empty, latency,
            empty, empty, empty, empty, empty, [], new Accuracy(0, 0), null, new ClientCpu(0, 0, null, 2), []);
    }
}
