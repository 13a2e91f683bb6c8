namespace DfbNet.Cli.Load;

/// <summary>
/// Percentiles of a set of durations in milliseconds, computed from every sample (a run is bounded in frames, so all are
/// kept): nearest rank, the smallest sample with at least p% of the samples at or below it, as <c>dfbnet stream</c>
/// reports them. Null values when there are no samples.
/// </summary>
internal sealed record LatencySummary(int Count, double? Mean, double? P50, double? P90, double? P99, double? Max)
{
    public static readonly LatencySummary Empty = new(0, null, null, null, null, null);

    public static LatencySummary Of(IReadOnlyCollection<double> samples)
    {
        if (samples.Count == 0)
        {
            return Empty;
        }

        var sorted = samples.Order().ToArray();
        return new LatencySummary(sorted.Length, sorted.Average(), Percentile(sorted, 50), Percentile(sorted, 90), Percentile(sorted, 99), sorted[^1]);
    }

    /// <summary>The nearest-rank percentile <paramref name="p"/> (0..100) of ascending <paramref name="sorted"/>: element
    /// ceil(p/100 * n) (1-based), the first element for p = 0; NaN when empty.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double p)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(p, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(p, 100);
        if (sorted.Count == 0)
        {
            return double.NaN;
        }

        // p * n / 100 rather than p / 100 * n: exact for whole p and n (0.07 * 100 is 7.000000000000001 in binary floating point, whose ceiling is 8).
        var rank = (int)Math.Ceiling(p * sorted.Count / 100);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }
}
