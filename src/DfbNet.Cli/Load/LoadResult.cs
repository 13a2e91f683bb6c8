using System.Text.Json.Serialization;

namespace DfbNet.Cli.Load;

/// <summary>
/// Everything one load run at one rate measured: what <c>--json</c> writes (camelCase) and the table shows. Figures are
/// of the measured window (frames scheduled after the warm-up) unless a field says otherwise; milliseconds and seconds
/// are in the names. docs/BENCHMARKS.md ("Load generator") defines each.
/// </summary>
/// <param name="FinalExits">Answered frames by the exit of their final event ("1".."M", "fused", "budget-cut").</param>
/// <param name="AnsweredAt">Answered frames by their first confident exit (EARLY_EXIT), whatever refinements followed;
/// by the final event where there was none. The same as <paramref name="FinalExits"/> in first-exit mode.</param>
internal sealed record LoadResult(
    LoadRunSettings Settings,
    LoadCounts Counts,
    LoadRates Rates,
    LatencySummary FirstEventMs,
    LatencySummary FinalEventMs,
    LatencySummary ServerTimeMs,
    LatencySummary QueueTimeMs,
    LatencySummary RefusalMs,
    LatencySummary WriteLagMs,
    IReadOnlyDictionary<string, int> FinalExits,
    IReadOnlyDictionary<string, int> AnsweredAt,
    IReadOnlyDictionary<string, int> RefusalsByCode,
    IReadOnlyDictionary<string, int> ErrorsByCode,
    IReadOnlyDictionary<string, int> StreamFailures,
    IReadOnlyList<BudgetOutcome> Budgets,
    Accuracy Accuracy,
    ServerCpu? ServerCpu,
    ClientCpu ClientCpu,
    IReadOnlyList<string> Violations)
{
    /// <summary>The server's stage runs over the measured window by batch size (from its OIP statistics); null when it
    /// could not be read.</summary>
    public ServerBatches? ServerBatches { get; init; }

    /// <summary>The server process's resident memory over the run (with --server-pid); null otherwise.</summary>
    public ServerMemory? ServerMemory { get; init; }

    /// <summary>A soak's bad inputs (<c>--bad-share</c>), measured ones, by kind: how each ended ("answered", or the
    /// error code of its final event); empty without them.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> BadInputs { get; init; } = new Dictionary<string, IReadOnlyDictionary<string, int>>();

    /// <summary>Every frame sent ended with exactly one final event, and no event named a frame that was not sent.</summary>
    public bool CountsAddUp => Counts.Balanced && Counts.NoFinalEvent == 0 && Counts.DuplicateFinalEvents == 0 && Counts.UnknownEvents == 0 && StreamFailures.Count == 0;
}

/// <summary>How the run was set up.</summary>
internal sealed record LoadRunSettings(
    string Protocol,
    string Server,
    string Model,
    int Streams,
    double OfferedRate,
    double PerStreamFps,
    string Arrivals,
    int Seed,
    double DurationSeconds,
    double WarmupSeconds,
    double DrainSeconds,
    IReadOnlyList<double> BudgetsMs,
    string Mode,
    string QueuePolicy,
    bool AlwaysAnswer,
    string Format,
    string Data,
    int Images,
    double MeanFrameBytes);

/// <summary>Frames by how they ended. <see cref="Balanced"/>: sent = answered + expired + refused + dropped + errors,
/// the left side counted as frames were written, the right as final events arrived.</summary>
internal sealed record LoadCounts(
    int Scheduled,
    int Sent,
    int Unsent,
    int Answered,
    int Expired,
    int Refused,
    int Dropped,
    int Errors,
    int NoFinalEvent,
    int DuplicateFinalEvents,
    int UnknownEvents)
{
    public bool Balanced => Sent == Answered + Expired + Refused + Dropped + Errors;
}

/// <summary>Frames per second over the measured window.</summary>
/// <param name="Offered">The rate asked for.</param>
/// <param name="Scheduled">Frames the schedule put in the window, per second (differs from Offered for Poisson arrivals).</param>
/// <param name="Sent">Frames written in the window, per second.</param>
/// <param name="Throughput">Final answers (events with a prediction) received during the window, per second, of any frame.</param>
internal sealed record LoadRates(double Offered, double Scheduled, double Sent, double Throughput);

/// <summary>Frames sent with one budget, and those answered within it.</summary>
/// <param name="HitsClient">Answered, with the final event received within the budget of the frame's scheduled send time.</param>
/// <param name="HitsServer">Answered, with the final event's server_time within the budget.</param>
/// <param name="HitsClientSlack">Answered, with the final event received within the budget plus <see cref="ClientSlackMs"/>
/// of the frame's scheduled send time: the budget as the server keeps it, with room for the trip there and back.</param>
internal sealed record BudgetOutcome(double BudgetMs, int Frames, int HitsClient, int HitsServer, int HitsClientSlack)
{
    /// <summary>The client's allowance on top of the budget for transport and its own scheduling.</summary>
    public const double ClientSlackMs = 3;

    public int MissesClient => Frames - HitsClient;

    public int MissesServer => Frames - HitsServer;

    public double? HitRateClient => Frames == 0 ? null : (double)HitsClient / Frames;

    public double? HitRateServer => Frames == 0 ? null : (double)HitsServer / Frames;

    public double? HitRateClientSlack => Frames == 0 ? null : (double)HitsClientSlack / Frames;
}

/// <summary>Answered frames whose final prediction is the CIFAR label (class index i is CIFAR-10 label i).</summary>
internal sealed record Accuracy(int Answered, int Correct)
{
    public double? Rate => Answered == 0 ? null : (double)Correct / Answered;
}

/// <summary>The server process's CPU over the measured window (from /proc/PID/stat).</summary>
/// <param name="MsPerAnswer">CPU milliseconds per final answer received in the window.</param>
internal sealed record ServerCpu(int Pid, double CpuMs, double Cores, double? MsPerAnswer);

/// <summary>Stage runs of the model over the measured window: how many, how many frames they carried, and the runs by
/// batch size (stage runs of any stage: a frame makes one per exit it reaches).</summary>
internal sealed record ServerBatches(long Runs, long Frames, double MeanBatch, IReadOnlyDictionary<string, long> RunsByBatchSize);

/// <summary>The server's resident set size (VmRSS of /proc/PID/status) from the end of the warm-up to the last answer, in MiB.</summary>
/// <param name="Samples">Readings taken, one a second.</param>
internal sealed record ServerMemory(int Pid, double StartMb, double EndMb, double PeakMb, int Samples)
{
    /// <summary>The end against the start: the soak's "flat" check.</summary>
    public double EndVersusStart => StartMb == 0 ? 0 : (EndMb / StartMb) - 1;
}

/// <summary>This generator's own CPU over the measured window, so a reader knows what the client took of the machine.</summary>
internal sealed record ClientCpu(double CpuMs, double Cores, double? MsPerSentFrame, int MachineCores);

/// <summary>A sweep: one result per offered rate, and the capacity they show.</summary>
/// <param name="Capacity">The highest offered rate whose final-event p99 was under <paramref name="P99BoundMs"/> with no frame refused or dropped; null when none was.</param>
internal sealed record SweepResult(double P99BoundMs, string Scale, double? Capacity, IReadOnlyList<LoadResult> Steps);

/// <summary>Source-generated JSON for the results (no reflection; numbers are written in the invariant form).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(LoadResult))]
[JsonSerializable(typeof(SweepResult))]
internal sealed partial class LoadJsonContext : JsonSerializerContext;
