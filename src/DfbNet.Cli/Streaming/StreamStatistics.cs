using System.Globalization;
using System.Text;
using DfbNet.Protocol.V1;

namespace DfbNet.Cli.Streaming;

/// <summary>
/// What <c>dfbnet stream</c> reports at the end: frames read, sent, answered and dropped; where frames were answered
/// (exit 1..M, fused, budget cut); percentiles of the final event's server time and of the client round trip.
/// </summary>
/// <remarks>
/// A frame is <b>dropped</b> when it was not sent because, at its time under <c>--fps</c>, <c>--max-in-flight</c> frames were
/// already sent and unanswered (a live source cannot wait), or when it ended with an ERROR event. A frame is
/// <b>answered at exit k</b> when exit k was its first confident exit (EARLY_EXIT), whatever refinements followed; at
/// <b>fused</b> when no exit was confident and the answer is the fusion of all exits; at <b>budget cut</b> when the budget
/// stopped it first.
/// </remarks>
internal sealed class StreamStatistics(int exits)
{
    private readonly HashSet<string> _earlyExit = new(StringComparer.Ordinal);
    private readonly int[] _answeredAt = new int[exits + 1];
    private readonly List<double> _serverMs = [];
    private readonly List<double> _roundTripMs = [];

    public int Read { get; set; }

    public int Sent { get; set; }

    public int NotSent { get; set; }

    public int Errors { get; private set; }

    public int Fused { get; private set; }

    public int BudgetCut { get; private set; }

    public int Answered { get; private set; }

    /// <summary>Frames the server dropped for newer ones (the latest policy).</summary>
    public int ServerDropped { get; private set; }

    public int Dropped => NotSent + ServerDropped + Errors;

    public int AnsweredAtExit(int exit) => _answeredAt[exit];

    public void Add(ExitEvent e, TimeSpan roundTrip)
    {
        if (e.Kind == ExitKind.EarlyExit)
        {
            _earlyExit.Add(e.FrameId);
            _answeredAt[Math.Clamp(e.Exit, 0, _answeredAt.Length - 1)]++;
        }

        if (!e.Final)
        {
            return;
        }

        if (e.Kind == ExitKind.Error)
        {
            Errors++;
            return;
        }

        if (e.Kind == ExitKind.Dropped)
        {
            // The server's latest policy: a newer frame took this one's place in the stream's queue.
            ServerDropped++;
            return;
        }

        Answered++;
        if (!_earlyExit.Remove(e.FrameId))
        {
            if (e.Kind == ExitKind.BudgetCut)
            {
                BudgetCut++;
            }
            else
            {
                Fused++;
            }
        }

        _serverMs.Add(e.ServerTime?.ToTimeSpan().TotalMilliseconds ?? 0);
        _roundTripMs.Add(roundTrip.TotalMilliseconds);
    }

    /// <summary>The nearest-rank percentile <paramref name="p"/> (0..100) of <paramref name="values"/>; NaN when empty.</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    public string Summary()
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"frames: {Read} read, {Sent} sent, {Answered} answered, {Dropped} dropped ({NotSent} not sent because --max-in-flight frames were unanswered at their time, {ServerDropped} replaced by newer frames on the server, {Errors} ended with ERROR)");
        var parts = new List<string>();
        for (var k = 1; k < _answeredAt.Length; k++)
        {
            parts.Add(Ratio(AnswerOrigin.ExitName(k), _answeredAt[k]));
        }

        parts.Add(Ratio(AnswerOrigin.Fused, Fused));
        if (BudgetCut > 0)
        {
            parts.Add(Ratio(AnswerOrigin.BudgetCut, BudgetCut));
        }

        text.AppendLine("answered at: " + string.Join("  ", parts));
        text.AppendLine(Percentiles("server time (final event)", _serverMs));
        text.Append(Percentiles("client round trip", _roundTripMs));
        return text.ToString();

        string Ratio(string name, int count) => string.Create(c, $"{name} {(Answered == 0 ? 0 : 100.0 * count / Answered):0.0}% ({count})");

        static string Percentiles(string name, List<double> values) => string.Create(
            CultureInfo.InvariantCulture,
            $"{name + ":",-27} p50 {Percentile(values, 50):0.00} ms  p90 {Percentile(values, 90):0.00} ms  p99 {Percentile(values, 99):0.00} ms");
    }
}
