using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using DfbNet.Core;

namespace DfbNet.Runtime;

/// <summary>The runtime's instruments (meter <c>DfbNet.Runtime</c>), exported by whatever metrics pipeline the host
/// configures (the server's Prometheus endpoint, <c>DfbNet:MetricsUrl</c>).</summary>
public static class RuntimeMetrics
{
    public const string MeterName = "DfbNet.Runtime";

    private static readonly Meter Meter = new(MeterName);

    // Per-frame and per-stage latencies run from ~0.1 ms (one CPU stage of a small model) to seconds (a cold GPU).
    private static readonly InstrumentAdvice<double> LatencyBuckets = new()
    {
        HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    };

    // Tag values built once: a boxed or formatted value per call would allocate on the hot path.
    private static readonly string[] KindTags = [.. Enum.GetValues<ExitKind>().Select(k => k switch
    {
        ExitKind.BelowThreshold => "below_threshold",
        ExitKind.EarlyExit => "early_exit",
        ExitKind.Refinement => "refinement",
        ExitKind.Fused => "fused",
        ExitKind.BudgetCut => "budget_cut",
        ExitKind.Dropped => "dropped",
        _ => "error",
    })];

    // Engines loaded and not yet disposed, observed at collection time: nothing on the hot path.
    private static readonly ConcurrentDictionary<EarlyExitEngine, byte> LiveEngines = new();

    private static readonly string[] NumberTags = [.. Enumerable.Range(0, 33).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>Moves of a stage's traffic between execution providers (breaker opened or closed), tagged stage, from, to.</summary>
    public static Counter<long> ProviderSwitches { get; } = Meter.CreateCounter<long>("dfbnet.provider.switches", description: "Stage traffic moved between execution providers by the circuit breaker");

    /// <summary>Sessions created per provider, tagged stage and provider: which provider each stage got at load.</summary>
    public static Counter<long> SessionsCreated { get; } = Meter.CreateCounter<long>("dfbnet.provider.sessions", description: "Stage sessions created, by execution provider");

    /// <summary>Frames answered, tagged model, the kind of their final event and its exit (0 for fusion, a budget cut or an error).</summary>
    public static Counter<long> Frames { get; } = Meter.CreateCounter<long>("dfbnet.frames", unit: "{frame}", description: "Frames answered, by model, final event kind and exit");

    /// <summary>Receipt to final event, tagged model.</summary>
    public static Histogram<double> FrameDuration { get; } = Meter.CreateHistogram("dfbnet.frame.duration", unit: "s", description: "Time from a frame's receipt to its final event", tags: null, advice: LatencyBuckets);

    /// <summary>One stage run, tagged model, stage and the provider that ran it.</summary>
    public static Histogram<double> StageDuration { get; } = Meter.CreateHistogram("dfbnet.stage.duration", unit: "s", description: "Time of one stage run, by model, stage and execution provider", tags: null, advice: LatencyBuckets);

    /// <summary>Frames being processed now, tagged model (observed when metrics are collected).</summary>
    public static Histogram<int> BatchSize { get; } = Meter.CreateHistogram("dfbnet.stage.batch_size", unit: "{frame}", description: "Frames per stage run, by model and stage", tags: null, advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64] });

    public static ObservableGauge<int> FramesQueued { get; } = Meter.CreateObservableGauge("dfbnet.frames.queued", ObserveFramesQueued, unit: "{frame}", description: "Frames waiting in a model's stage queues");

    public static Counter<long> FramesRefused { get; } = Meter.CreateCounter<long>("dfbnet.frames.refused", unit: "{frame}", description: "Frames refused at admission, by model and code");

    public static ObservableGauge<int> FramesInFlight { get; } = Meter.CreateObservableGauge("dfbnet.frames.in_flight", ObserveFramesInFlight, unit: "{frame}", description: "Frames being processed, by model");

    /// <summary>Bytes held by image decodes now, over the decode budgets of the loaded engines (a server's share one).</summary>
    public static ObservableGauge<long> DecodeMemory { get; } = Meter.CreateObservableGauge("dfbnet.decode.memory", () => DecodeBudgets().Sum(b => b.InUse), unit: "By", description: "Memory held by image decodes now (DfbNet:DecodeMemoryBytes bounds it)");

    /// <summary>Decodes waiting for room in the decode budget now.</summary>
    public static ObservableGauge<int> DecodesWaiting { get; } = Meter.CreateObservableGauge("dfbnet.decode.waiting", () => DecodeBudgets().Sum(b => b.Waiting), unit: "{frame}", description: "Frames waiting for decode memory (DfbNet:DecodeMemoryBytes)");

    internal static void Track(EarlyExitEngine engine) => LiveEngines.TryAdd(engine, 0);

    internal static void Untrack(EarlyExitEngine engine) => LiveEngines.TryRemove(engine, out _);

    internal static void RecordStage(string model, int stage, string provider, TimeSpan elapsed, int batch)
    {
        if (StageDuration.Enabled)
        {
            StageDuration.Record(elapsed.TotalSeconds, new("model", model), new("stage", Number(stage)), new("provider", provider));
        }

        if (BatchSize.Enabled)
        {
            BatchSize.Record(batch, new("model", model), new("stage", Number(stage)));
        }
    }

    internal static void RecordRefusal(string model, FrameErrorCode code)
    {
        if (FramesRefused.Enabled)
        {
            FramesRefused.Add(1, new("model", model), new("code", code == FrameErrorCode.ResourceExhausted ? "resource_exhausted" : "unavailable"));
        }
    }

    internal static void RecordFrame(string model, ExitEvent final, TimeSpan elapsed)
    {
        if (Frames.Enabled)
        {
            Frames.Add(1, new("model", model), new("kind", KindTags[(int)final.Kind]), new("exit", Number(final.Exit)));
        }

        if (FrameDuration.Enabled)
        {
            FrameDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("model", model));
        }
    }

    private static IEnumerable<Measurement<int>> ObserveFramesQueued() =>
        LiveEngines.Keys.Select(e => new Measurement<int>(e.QueuedFrames, new KeyValuePair<string, object?>("model", e.Name)));

    private static IEnumerable<Measurement<int>> ObserveFramesInFlight() =>
        LiveEngines.Keys.Select(e => new Measurement<int>(e.InFlightFrames, new KeyValuePair<string, object?>("model", e.Name)));

    private static IEnumerable<Preprocessing.DecodeMemoryBudget> DecodeBudgets() => LiveEngines.Keys.Select(e => e.DecodeBudget).Distinct();

    private static string Number(int value) => (uint)value < (uint)NumberTags.Length ? NumberTags[value] : value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
