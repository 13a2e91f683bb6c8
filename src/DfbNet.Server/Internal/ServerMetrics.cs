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
