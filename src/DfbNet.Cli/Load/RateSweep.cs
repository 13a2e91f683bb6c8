using System.Globalization;

namespace DfbNet.Cli.Load;

/// <summary>
/// <c>--sweep START:STOP:STEPS</c>: total offered rates from START to STOP frames/s in STEPS geometric steps (each rate
/// the previous one times (STOP/START)^(1/(STEPS-1))), since capacity is found by ratio, and a geometric ladder spends as
/// many steps between 10 and 100 frames/s as between 100 and 1,000.
/// </summary>
internal sealed record RateSweep(double Start, double Stop, int Steps)
{
    public const string Scale = "geometric";

    /// <summary>The offered rates, lowest first; the first is exactly START and the last exactly STOP.</summary>
    public IReadOnlyList<double> Rates => Enumerable.Range(0, Steps)
        .Select(i => Steps == 1 ? Start : i == Steps - 1 ? Stop : Start * Math.Pow(Stop / Start, (double)i / (Steps - 1)))
        .ToList();

    public static bool TryParse(string text, out RateSweep? sweep, out string? error)
    {
        sweep = null;
        var parts = text.Split(':', StringSplitOptions.TrimEntries);
        var c = CultureInfo.InvariantCulture;
        if (parts.Length != 3
            || !double.TryParse(parts[0], NumberStyles.Float, c, out var start)
            || !double.TryParse(parts[1], NumberStyles.Float, c, out var stop)
            || !int.TryParse(parts[2], NumberStyles.Integer, c, out var steps))
        {
            error = $"--sweep '{text}' is not START:STOP:STEPS (total frames/s from START to STOP in STEPS geometric steps, for example 20:320:5).";
            return false;
        }

        error = !double.IsFinite(start) || !double.IsFinite(stop) || start <= 0 ? $"--sweep '{text}': START must be a positive rate."
            : stop < start ? $"--sweep '{text}': STOP must be at least START."
            : steps is < 1 or > 100 ? $"--sweep '{text}': STEPS must be an integer from 1 to 100."
            : steps == 1 && stop != start ? $"--sweep '{text}': one step needs STOP equal to START."
            : null;
        sweep = error is null ? new RateSweep(start, stop, steps) : null;
        return error is null;
    }

    /// <summary>
    /// The highest offered rate whose final-event p99 is under <paramref name="p99BoundMs"/> with no frame refused or
    /// dropped (a server that sheds load has not carried it); null when no step qualifies. Steps need not be monotone:
    /// this is the highest passing rate, not the last one before the first failure.
    /// </summary>
    public static double? Capacity(IEnumerable<LoadResult> steps, double p99BoundMs) => steps
        .Where(s => s.FinalEventMs.P99 is { } p99 && p99 < p99BoundMs && s.Counts.Refused == 0 && s.Counts.Dropped == 0)
        .Select(s => (double?)s.Settings.OfferedRate)
        .Max();
}
