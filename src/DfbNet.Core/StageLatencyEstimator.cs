namespace DfbNet.Core;

/// <summary>
/// An online estimate of each stage's latency on the active execution provider: an exponentially weighted
/// moving average of measured run times, seeded by warm-up runs. Thread-safe; read on every stage decision.
/// </summary>
public sealed class StageLatencyEstimator
{
    private readonly Lock _gate = new();
    private readonly double[] _meanTicks;
    private readonly long[] _samples;
    private readonly double _alpha;

    /// <param name="stageCount">M.</param>
    /// <param name="smoothing">Weight of a new sample in the moving average, in (0, 1].</param>
    public StageLatencyEstimator(int stageCount, double smoothing = 0.1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stageCount, 1);
        if (!(smoothing > 0 && smoothing <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, "Smoothing must lie in (0, 1].");
        }

        _meanTicks = new double[stageCount];
        _samples = new long[stageCount];
        _alpha = smoothing;
    }

    public int StageCount => _meanTicks.Length;

    /// <summary>Records one measured run of a zero-based stage.</summary>
    public void Record(int stage, TimeSpan elapsed)
    {
        lock (_gate)
        {
            var n = ++_samples[stage];

            // The first samples get a plain mean so that one cold run does not dominate for long.
            var weight = Math.Max(_alpha, 1.0 / n);
            _meanTicks[stage] += weight * (elapsed.Ticks - _meanTicks[stage]);
        }
    }

    /// <summary>The current estimate for a zero-based stage; zero before any sample.</summary>
    public TimeSpan Estimate(int stage)
    {
        lock (_gate)
        {
            return TimeSpan.FromTicks((long)Math.Round(_meanTicks[stage]));
        }
    }

    /// <summary>How many runs of a zero-based stage have been recorded.</summary>
    public long SampleCount(int stage)
    {
        lock (_gate)
        {
            return _samples[stage];
        }
    }
}
