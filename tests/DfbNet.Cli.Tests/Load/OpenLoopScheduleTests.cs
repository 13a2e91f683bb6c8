using DfbNet.Cli.Load;

namespace DfbNet.Cli.Tests.Load;

public sealed class OpenLoopScheduleTests
{
    [Fact]
    public void Fixed_FrameKIsDueAtExactlyKOverTheRate()
    {
        var times = OpenLoopSchedule.Arrivals(ArrivalProcess.Fixed, 50, stream: 0, streams: 1, seed: 1, horizonSeconds: 2);
        Assert.Equal(100, times.Length);
        for (var k = 0; k < times.Length; k++)
        {
            // Computed from k, never by adding gaps: exact, with no drift at the end of a long run.
            Assert.Equal(k / 50.0, times[k]);
        }
    }

    [Fact]
    public void Fixed_StreamsAreSpreadEvenlyOverOnePeriod()
    {
        var firsts = Enumerable.Range(0, 4).Select(i => OpenLoopSchedule.Arrivals(ArrivalProcess.Fixed, 10, i, 4, 1, 1)).ToList();
        Assert.Equal([0, 0.025, 0.05, 0.075], firsts.Select(t => t[0]));
        Assert.All(firsts, t => Assert.Equal(10, t.Length));
        Assert.All(firsts, t => Assert.Equal(0.1, t[1] - t[0], 12));
    }

    [Fact]
    public void Poisson_FixedSeed_MeanGapIsOneOverTheRateAndGapsAreExponential()
    {
        const double rate = 100;
        var times = OpenLoopSchedule.Arrivals(ArrivalProcess.Poisson, rate, stream: 0, streams: 1, seed: 42, horizonSeconds: 100);

        // About 10,000 arrivals (standard deviation 100): the count and the mean gap within 3%.
        Assert.InRange(times.Length, 9_700, 10_300);
        var gaps = times.Zip(times.Skip(1), (a, b) => b - a).Prepend(times[0]).ToArray();
        var mean = gaps.Average();
        Assert.InRange(mean, 0.97 / rate, 1.03 / rate);

        // An exponential's standard deviation equals its mean; fixed spacing would give 0.
        var sd = Math.Sqrt(gaps.Sum(g => (g - mean) * (g - mean)) / gaps.Length);
        Assert.InRange(sd / mean, 0.95, 1.05);
        Assert.All(gaps, g => Assert.True(g > 0));
        Assert.True(times[^1] < 100);
    }

    [Fact]
    public void Poisson_SameSeedSameTimes_StreamsDiffer()
    {
        var a = OpenLoopSchedule.Arrivals(ArrivalProcess.Poisson, 30, 0, 2, 7, 5);
        var again = OpenLoopSchedule.Arrivals(ArrivalProcess.Poisson, 30, 0, 2, 7, 5);
        var other = OpenLoopSchedule.Arrivals(ArrivalProcess.Poisson, 30, 1, 2, 7, 5);
        var reseeded = OpenLoopSchedule.Arrivals(ArrivalProcess.Poisson, 30, 0, 2, 8, 5);
        Assert.Equal(a, again);
        Assert.NotEqual(a, other);
        Assert.NotEqual(a, reseeded);
    }
}
