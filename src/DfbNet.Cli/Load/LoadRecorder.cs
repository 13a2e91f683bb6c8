using System.Diagnostics;
using DfbNet.Protocol.V1;

namespace DfbNet.Cli.Load;

/// <summary>
/// Keeps every frame of a run and what happened to it: when it was due, when its write was handed to HTTP/2, its first
/// and its final events. Writers and readers of all streams call it concurrently; one lock guards it: each call holds it
/// for a few dictionary and list operations, well under a microsecond, so even tens of thousands of events a second
/// leave it free most of the time.
/// </summary>
/// <remarks>
/// Times are <see cref="Stopwatch"/> timestamps. Latencies run from the frame's <b>scheduled</b> send time, not from its
/// write: a write that waits (HTTP/2 flow control, a late timer) adds to the latency of its frame, as it would to a
/// camera's, instead of hiding it (no coordinated omission); the wait itself is the write lag. Only frames due inside the
/// measured window are counted; warm-up frames are tracked (so that their events are not taken for strays) but not
/// counted, except that answers received inside the window count towards throughput whatever frame they belong to.
/// </remarks>
internal sealed class LoadRecorder
{
    private const int MaxViolationSamples = 20;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, FrameRecord> _frames = new(StringComparer.Ordinal);
    private readonly long _windowStart;
    private readonly long _windowEnd;

    private readonly List<double> _firstMs = [];
    private readonly List<double> _finalMs = [];
    private readonly List<double> _serverMs = [];
    private readonly List<double> _queueMs = [];
    private readonly List<double> _refusalMs = [];
    private readonly List<double> _writeLagMs = [];
    private readonly Dictionary<string, int> _exits = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _answeredAt = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _refusals = new(StringComparer.Ordinal) { ["Unavailable"] = 0, ["ResourceExhausted"] = 0 };
    private readonly Dictionary<string, int> _errors = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _streamFailures = new(StringComparer.Ordinal);
    private readonly Dictionary<double, (int Frames, int HitsClient, int HitsServer, int HitsClientSlack)> _budgets = [];
    private readonly List<string> _violations = [];
    private List<double> _recentFinalMs = [];

    private int _sent;
    private int _sentAll;
    private int _answered;
    private int _answeredAll;
    private int _expired;
    private int _refused;
    private int _refusedAll;
    private int _dropped;
    private int _errorCount;
    private int _duplicates;
    private int _unknown;
    private int _answersInWindow;
    private int _correct;
    private int _scored;
    private readonly Dictionary<string, Dictionary<string, int>> _badInputs = new(StringComparer.Ordinal);

    /// <param name="windowStart">The timestamp at which the measured window opens (the end of the warm-up).</param>
    /// <param name="windowEnd">The timestamp at which it closes (the end of the schedule).</param>
    public LoadRecorder(long windowStart, long windowEnd)
    {
        _windowStart = windowStart;
        _windowEnd = windowEnd;
    }

    /// <summary>Answers received inside the measured window (throughput's numerator), for CPU per answer.</summary>
    public int AnswersInWindow
    {
        get
        {
            lock (_gate)
            {
                return _answersInWindow;
            }
        }
    }

    /// <summary>A frame is about to be written. Called before the write, since its events may arrive before the write returns.</summary>
    /// <param name="badKind">For a soak's bad input, what is wrong with it (its outcome is reported by kind).</param>
    public void Scheduled(string frameId, long due, bool measured, double budgetMs, int label, string? badKind = null)
    {
        lock (_gate)
        {
            _frames[frameId] = new FrameRecord(due, measured, budgetMs, label) { BadKind = badKind };
        }
    }

    /// <summary>The write of <paramref name="frameId"/> was handed to HTTP/2 at <paramref name="written"/>.</summary>
    public void Written(string frameId, long writeStarted, long written)
    {
        lock (_gate)
        {
            var frame = _frames[frameId];
            frame.WriteStarted = writeStarted;
            frame.Written = written;
            _sentAll++;
            if (frame.Measured)
            {
                _sent++;
                _writeLagMs.Add(Milliseconds(written - frame.Due));
                if (frame.BudgetMs > 0)
                {
                    var b = _budgets.GetValueOrDefault(frame.BudgetMs);
                    _budgets[frame.BudgetMs] = (b.Frames + 1, b.HitsClient, b.HitsServer, b.HitsClientSlack);
                }
            }
        }
    }

    /// <summary>A stream ended with a status other than the run's own cancellation; its unanswered frames have no final event.</summary>
    public void StreamFailed(string statusCode)
    {
        lock (_gate)
        {
            _streamFailures[statusCode] = _streamFailures.GetValueOrDefault(statusCode) + 1;
        }
    }

    public void Event(in LoadEvent e, long received)
    {
        lock (_gate)
        {
            if (!_frames.TryGetValue(e.FrameId, out var frame))
            {
                _unknown++;
                Violation($"event for frame '{e.FrameId}', which was never sent ({e.Kind})");
                return;
            }

            if (frame.FirstEvent == 0)
            {
                frame.FirstEvent = received;
            }

            if (e.Kind == ExitKind.EarlyExit && frame.AnsweredAt is null)
            {
                frame.AnsweredAt = ExitName(e);
            }

            if (!e.Final)
            {
                return;
            }

            if (++frame.FinalEvents > 1)
            {
                _duplicates++;
                Violation($"frame '{e.FrameId}' has {frame.FinalEvents} final events (this one {e.Kind})");
                return;
            }

            var answered = e.ClassIndex >= 0 && e.Kind is ExitKind.EarlyExit or ExitKind.Refinement or ExitKind.Fused or ExitKind.BudgetCut or ExitKind.BelowThreshold;
            var finalMs = Milliseconds(received - frame.Due);
            if (answered)
            {
                _answeredAll++;
                _recentFinalMs.Add(finalMs);
                if (received >= _windowStart && received < _windowEnd)
                {
                    _answersInWindow++;
                }
            }

            if (e.Kind == ExitKind.Error && IsRefusal(e.ErrorCode))
            {
                _refusedAll++;
            }

            if (!frame.Measured)
            {
                return;
            }

            if (frame.BadKind is { } kind)
            {
                var outcomes = _badInputs.TryGetValue(kind, out var o) ? o : _badInputs[kind] = new Dictionary<string, int>(StringComparer.Ordinal);
                var outcome = answered ? "answered" : e.Kind == ExitKind.Error ? (string.IsNullOrEmpty(e.ErrorCode) ? "Unknown" : e.ErrorCode) : e.Kind.ToString();
                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            }

            if (answered)
            {
                _answered++;
                if (frame.Label >= 0)
                {
                    _scored++;
                }

                _firstMs.Add(Milliseconds(frame.FirstEvent - frame.Due));
                _finalMs.Add(finalMs);
                var serverMs = e.ServerTime?.TotalMilliseconds;
                if (serverMs is { } s)
                {
                    _serverMs.Add(s);
                }

                if (e.QueueTime is { } q)
                {
                    _queueMs.Add(q.TotalMilliseconds);
                }

                var exit = ExitName(e);
                _exits[exit] = _exits.GetValueOrDefault(exit) + 1;
                var answeredAt = frame.AnsweredAt ?? exit;
                _answeredAt[answeredAt] = _answeredAt.GetValueOrDefault(answeredAt) + 1;
                if (e.ClassIndex == frame.Label)
                {
                    _correct++;
                }

                if (frame.BudgetMs > 0 && _budgets.TryGetValue(frame.BudgetMs, out var b))
                {
                    _budgets[frame.BudgetMs] = (
                        b.Frames,
                        b.HitsClient + (finalMs <= frame.BudgetMs ? 1 : 0),
                        b.HitsServer + (serverMs <= frame.BudgetMs ? 1 : 0),
                        b.HitsClientSlack + (finalMs <= frame.BudgetMs + BudgetOutcome.ClientSlackMs ? 1 : 0));
                }
            }
            else if (e.Kind == ExitKind.Error && IsRefusal(e.ErrorCode))
            {
                _refused++;
                _refusals[e.ErrorCode!] += 1;

                // From the write, not the schedule: how fast the server says no, whatever the client's own lag.
                _refusalMs.Add(Milliseconds(received - (frame.WriteStarted != 0 ? frame.WriteStarted : frame.Due)));
            }
            else if (e.Kind == ExitKind.Dropped)
            {
                _dropped++;
            }
            else if (e.Kind == ExitKind.BudgetCut)
            {
                // A budget cut before any exit ran: final, on time, but without an answer.
                _expired++;
            }
            else
            {
                _errorCount++;
                var code = e.Kind == ExitKind.Error ? (string.IsNullOrEmpty(e.ErrorCode) ? "Unknown" : e.ErrorCode) : $"final {e.Kind} without a prediction";
                _errors[code] = _errors.GetValueOrDefault(code) + 1;
            }
        }
    }

    /// <summary>Counts so far and the p99 of the final-event latencies of answers since the last call, warm-up included.</summary>
    public (int Sent, int Answered, int Refused, double P99Ms) Progress()
    {
        lock (_gate)
        {
            var recent = _recentFinalMs;
            _recentFinalMs = [];
            recent.Sort();
            return (_sentAll, _answeredAll, _refusedAll, LatencySummary.Percentile(recent, 99));
        }
    }

    /// <summary>The figures of the run, once it is over (no writer or reader running).</summary>
    /// <param name="settings">How the run was set up.</param>
    /// <param name="scheduled">Frames the schedule put in the measured window; those not written (a writer that was still
    /// behind at the end of the drain, a stream that failed) are the unsent ones.</param>
    /// <param name="serverCpu">The server's CPU over the window, where measured.</param>
    /// <param name="clientCpu">This process's CPU over the window.</param>
    public LoadResult Summarize(LoadRunSettings settings, int scheduled, ServerCpu? serverCpu, TimeSpan clientCpu)
    {
        lock (_gate)
        {
            var noFinal = 0;
            foreach (var (id, frame) in _frames)
            {
                // A frame whose write never completed is unsent, whether or not the server saw it.
                if (frame.Measured && frame.Written != 0 && frame.FinalEvents == 0)
                {
                    noFinal++;
                    Violation($"frame '{id}' has no final event");
                }
            }

            var seconds = settings.DurationSeconds;
            var counts = new LoadCounts(scheduled, _sent, scheduled - _sent, _answered, _expired, _refused, _dropped, _errorCount, noFinal, _duplicates, _unknown);
            var rates = new LoadRates(settings.OfferedRate, scheduled / seconds, _sent / seconds, _answersInWindow / seconds);
            var cpuMs = clientCpu.TotalMilliseconds;
            return new LoadResult(
                settings,
                counts,
                rates,
                LatencySummary.Of(_firstMs),
                LatencySummary.Of(_finalMs),
                LatencySummary.Of(_serverMs),
                LatencySummary.Of(_queueMs),
                LatencySummary.Of(_refusalMs),
                LatencySummary.Of(_writeLagMs),
                ExitOrder(_exits),
                ExitOrder(_answeredAt),
                new Dictionary<string, int>(_refusals, StringComparer.Ordinal),
                new Dictionary<string, int>(_errors, StringComparer.Ordinal),
                new Dictionary<string, int>(_streamFailures, StringComparer.Ordinal),
                [.. settings.BudgetsMs.Where(b => b > 0).Distinct().Order().Select(Budget)],
                new Accuracy(_scored, _correct),
                serverCpu,
                new ClientCpu(cpuMs, cpuMs / 1000 / seconds, _sent == 0 ? null : cpuMs / _sent, Environment.ProcessorCount),
                [.. _violations]) { BadInputs = _badInputs.ToDictionary(k => k.Key, k => (IReadOnlyDictionary<string, int>)new Dictionary<string, int>(k.Value, StringComparer.Ordinal), StringComparer.Ordinal) };
        }
    }

    public static bool IsRefusal(string? code) => code is "Unavailable" or "ResourceExhausted";

    private static double Milliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    /// <summary>"1".."M" for an exit's own event, "fused" or "budget-cut" for an answer made of several exits.</summary>
    private static string ExitName(in LoadEvent e) => e.Kind switch
    {
        ExitKind.Fused => "fused",
        ExitKind.BudgetCut => "budget-cut",
        _ => e.Exit.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static Dictionary<string, int> ExitOrder(Dictionary<string, int> counts) => counts
        .OrderBy(e => e.Key is "fused" or "budget-cut" ? 1 : 0)
        .ThenBy(e => e.Key.Length)
        .ThenBy(e => e.Key, StringComparer.Ordinal)
        .ToDictionary(StringComparer.Ordinal);

    private BudgetOutcome Budget(double budgetMs)
    {
        var (frames, hitsClient, hitsServer, hitsClientSlack) = _budgets.GetValueOrDefault(budgetMs);
        return new BudgetOutcome(budgetMs, frames, hitsClient, hitsServer, hitsClientSlack);
    }

    private void Violation(string text)
    {
        if (_violations.Count < MaxViolationSamples)
        {
            _violations.Add(text);
        }
    }

    private sealed class FrameRecord(long due, bool measured, double budgetMs, int label)
    {
        public long Due { get; } = due;

        public bool Measured { get; } = measured;

        public double BudgetMs { get; } = budgetMs;

        public int Label { get; } = label;

        public long WriteStarted { get; set; }

        public long Written { get; set; }

        public long FirstEvent { get; set; }

        public int FinalEvents { get; set; }

        /// <summary>A soak's bad input: what is wrong with it.</summary>
        public string? BadKind { get; init; }

        /// <summary>The exit of the frame's EARLY_EXIT event, its answer before any refinement.</summary>
        public string? AnsweredAt { get; set; }
    }
}
