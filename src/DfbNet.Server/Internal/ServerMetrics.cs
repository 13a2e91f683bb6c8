using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace DfbNet.Server.Internal;

/// <summary>
/// The server's instruments (meter <c>DfbNet.Server</c>): open ClassifyStream calls and the frames they have received
/// but not started, observed at collection time from the live streams' queues (nothing to keep in step per frame).
/// </summary>
internal static class ServerMetrics
{
    public const string MeterName = "DfbNet.Server";

    private static readonly Meter Meter = new(MeterName);
    private static readonly ConcurrentDictionary<Guid, Func<int>> QueueDepths = new();

    public static ObservableGauge<int> StreamsActive { get; } = Meter.CreateObservableGauge("dfbnet.streams.active", static () => QueueDepths.Count, unit: "{stream}", description: "Open ClassifyStream calls");

    public static ObservableGauge<int> QueuedFrames { get; } = Meter.CreateObservableGauge("dfbnet.stream.queued_frames", static () => QueueDepths.Values.Sum(depth => depth()), unit: "{frame}", description: "Frames received on open streams and not started yet");

    private static readonly Counter<long> ClientFrames = Meter.CreateCounter<long>("dfbnet.client.frames", unit: "{frame}", description: "Frames taken from each authenticated caller (by the name of its API key or token subject)");

    private static readonly Counter<long> QuotaRefusals = Meter.CreateCounter<long>("dfbnet.quota.refusals", unit: "{refusal}", description: "Frames and streams refused because their caller was over a quota");

    private static readonly Counter<long> AuthRefusals = Meter.CreateCounter<long>("dfbnet.auth.refusals", unit: "{call}", description: "Calls refused by authentication (unauthenticated) or authorisation (permission_denied)");

    public static void ClientFrame(string client) => ClientFrames.Add(1, new KeyValuePair<string, object?>("client", client));

    public static void QuotaRefused(string client, string quota) =>
        QuotaRefusals.Add(1, new KeyValuePair<string, object?>("client", client), new KeyValuePair<string, object?>("quota", quota));

    public static void AuthRefused(string reason) => AuthRefusals.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>Creates the instruments (by running the type's initialiser), so that a scrape shows them at zero before the
    /// first stream opens.</summary>
    public static void EnsureCreated() => _ = StreamsActive;

    /// <summary>Counts a stream and its queue until the returned handle is disposed.</summary>
    public static IDisposable TrackStream(Func<int> queueDepth)
    {
        var id = Guid.NewGuid();
        QueueDepths[id] = queueDepth;
        return new Registration(id);
    }

    private sealed class Registration(Guid id) : IDisposable
    {
        public void Dispose() => QueueDepths.TryRemove(id, out _);
    }
}
