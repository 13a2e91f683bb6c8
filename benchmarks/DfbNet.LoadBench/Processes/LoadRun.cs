using System.Text.Json.Nodes;

namespace DfbNet.LoadBench.Processes;

/// <summary>
/// One finished <c>dfbnet load</c> process: how it was called, how it ended, and the figures of its <c>--json</c> result
/// (src/DfbNet.Cli/Load/LoadResult.cs, camelCase), read by name. A figure the result does not have is null.
/// </summary>
internal sealed class LoadRun(string label, string command, int exitCode, double wallSeconds, JsonObject? result, string? error)
{
    public string Label { get; } = label;

    /// <summary>The command line, as a person would type it.</summary>
    public string Command { get; } = command;

    /// <summary>0: the counts add up; 1: they do not, or the server failed; anything else: see <see cref="Error"/>.</summary>
    public int ExitCode { get; } = exitCode;

    public double WallSeconds { get; } = wallSeconds;

    public JsonObject? Result { get; } = result;

    /// <summary>Why there is no result (the process timed out, wrote no JSON), with its last lines.</summary>
    public string? Error { get; } = error;

    public bool HasResult => Result is not null;

    public double Offered => Number("settings", "offeredRate") ?? 0;

    public int Streams => (int)(Number("settings", "streams") ?? 0);

    public double Throughput => Number("rates", "throughput") ?? 0;

    public int Count(string name) => (int)(Number("counts", name) ?? 0);

    public bool CountsAddUp => Result?["countsAddUp"]?.GetValue<bool>() ?? false;

    /// <summary>A latency figure: <paramref name="summary"/> is finalEventMs, serverTimeMs, refusalMs...; <paramref name="field"/> p50, p99, mean, max...</summary>
    public double? Latency(string summary, string field) => Number(summary, field);

    public double? FinalP50 => Latency("finalEventMs", "p50");

    public double? FinalP99 => Latency("finalEventMs", "p99");

    public double? ServerCpuMsPerAnswer => Number("serverCpu", "msPerAnswer");

    public double? ServerCores => Number("serverCpu", "cores");

    public double? ClientCores => Number("clientCpu", "cores");

    public double? MeanBatch => Number("serverBatches", "meanBatch");

    public double? Accuracy => Number("accuracy", "rate");

    /// <summary>Refusals by status code name, those that happened.</summary>
    public IReadOnlyDictionary<string, int> RefusalsByCode => Result?["refusalsByCode"] is JsonObject codes
        ? codes.Where(p => p.Value is not null && p.Value.GetValue<int>() > 0).ToDictionary(p => p.Key, p => p.Value!.GetValue<int>())
        : new Dictionary<string, int>();

    /// <summary>Answered frames by the exit of their final event ("1".."M", "fused", "budget-cut").</summary>
    public IReadOnlyDictionary<string, int> FinalExits => Result?["finalExits"] is JsonObject exits
        ? exits.Where(p => p.Value is not null).ToDictionary(p => p.Key, p => p.Value!.GetValue<int>())
        : new Dictionary<string, int>();

    /// <summary>The outcome of the frames sent with <paramref name="budgetMs"/>, or null.</summary>
    public BudgetHits? Budget(double budgetMs) => Result?["budgets"] is JsonArray budgets
        && budgets.OfType<JsonObject>().FirstOrDefault(b => b["budgetMs"]?.GetValue<double>() == budgetMs) is { } b
            ? new BudgetHits(Int(b, "frames"), Int(b, "hitsClient"), Int(b, "hitsClientSlack"), Int(b, "hitsServer"))
            : null;

    /// <summary>Passes the capacity test: final-event p99 under <paramref name="p99BoundMs"/>, nothing refused, dropped or
    /// left unsent, and the counts add up.</summary>
    public bool Carries(double p99BoundMs) =>
        HasResult && CountsAddUp && FinalP99 is { } p99 && p99 < p99BoundMs && Count("refused") == 0 && Count("dropped") == 0 && Count("unsent") == 0;

    /// <summary>What the run is worth in results.json: its command, how it ended and its whole result.</summary>
    public JsonObject ToJson() => new()
    {
        ["label"] = Label,
        ["command"] = Command,
        ["exitCode"] = ExitCode,
        ["wallSeconds"] = Math.Round(WallSeconds, 2),
        ["error"] = Error,
        ["result"] = Result?.DeepClone(),
    };

    private double? Number(params string[] path)
    {
        JsonNode? node = Result;
        foreach (var key in path)
        {
            node = node is JsonObject o ? o[key] : null;
        }

        return node is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;
    }

    private static int Int(JsonObject o, string key) => o[key] is JsonValue v && v.TryGetValue<int>(out var i) ? i : 0;
}

/// <summary>Frames sent with one budget, and those within it: at the client, at the client with 3 ms to spare, by server time.</summary>
internal sealed record BudgetHits(int Frames, int HitsClient, int HitsClientSlack, int HitsServer)
{
    public double? Client => Rate(HitsClient);

    public double? ClientSlack => Rate(HitsClientSlack);

    public double? Server => Rate(HitsServer);

    private double? Rate(int hits) => Frames == 0 ? null : (double)hits / Frames;
}
