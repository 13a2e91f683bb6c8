namespace DfbNet.Cli.Evaluation;

/// <summary>Per-image latencies in milliseconds and their summary.</summary>
internal sealed class LatencySample
{
    private readonly double[] _sorted;

    public LatencySample(double[] milliseconds)
    {
        ArgumentNullException.ThrowIfNull(milliseconds);
        if (milliseconds.Length == 0)
        {
            throw new ArgumentException("No latencies.", nameof(milliseconds));
        }

        _sorted = [.. milliseconds.Order()];
        Mean = milliseconds.Average();
    }

    public double Mean { get; }

    public double P50 => Percentile(0.50);

    public double P99 => Percentile(0.99);

    /// <summary>Nearest-rank percentile.</summary>
    public double Percentile(double q)
    {
        var rank = (int)Math.Ceiling(q * _sorted.Length);
        return _sorted[Math.Clamp(rank - 1, 0, _sorted.Length - 1)];
    }
}
