using System.Diagnostics;
using System.Globalization;

namespace DfbNet.LoadBench;

/// <summary>
/// What the run has done and what is left, on stderr: the time left is the plan's estimate less the time spent and the
/// planned time given back (steps that a sweep past saturation skips).
/// </summary>
internal sealed class BenchProgress(TextWriter output)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private double _skipped;
    private double _total;

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>A run finished; <paramref name="summary"/> says how it went.</summary>
    public void Done(string scenario, string label, string summary)
    {
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{Clock(_clock.Elapsed)} elapsed, ~{Clock(TimeSpan.FromSeconds(Left))} left] {scenario}: {label}: {summary}"));
    }

    /// <summary>The plan's estimate, in seconds.</summary>
    public void Plan(double totalSeconds) => _total = totalSeconds;

    /// <summary>Planned time that will not be spent (steps a sweep skips).</summary>
    public void Skip(double plannedSeconds) => _skipped += plannedSeconds;

    public void Say(string line) => output.WriteLine(line);

    private double Left => Math.Max(0, _total - _skipped - _clock.Elapsed.TotalSeconds);

    public static string Clock(TimeSpan t) => t.TotalHours >= 1
        ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)
        : t.ToString(@"m\:ss", CultureInfo.InvariantCulture);
}
