using DfbNet.Protocol.V1;
using Grpc.Core;

namespace DfbNet.Client;

/// <summary>Settings of one call; each one that is unset falls back to the client's <see cref="DfbNetClientOptions"/>.</summary>
public sealed class RequestOptions
{
    /// <summary>The model; null for the client's default.</summary>
    public string? Model { get; set; }

    /// <summary>The inference mode; null for the client's default.</summary>
    public InferenceMode? Mode { get; set; }

    /// <summary>A threshold preset of the model; null for the client's default. Ignored when <see cref="Thresholds"/> is set.</summary>
    public string? Preset { get; set; }

    /// <summary>Explicit thresholds p_1..p_M, one per exit; null to use a preset.</summary>
    public IReadOnlyList<float>? Thresholds { get; set; }

    /// <summary>The per-frame latency budget; null for the client's default.</summary>
    public TimeSpan? Budget { get; set; }

    /// <summary>Classes listed in each prediction's top-k; null for the client's default.</summary>
    public int? TopK { get; set; }

    /// <summary>Streams: what the server does with a frame that arrives while the stream's queue is full.
    /// <see cref="QueuePolicy.Latest"/> (live cameras) replaces the oldest waiting frame, which ends with a DROPPED event;
    /// <see cref="QueuePolicy.Queue"/> waits. Null for the client's default.</summary>
    public QueuePolicy? QueuePolicy { get; set; }

    /// <summary>Run exit 1 even when the budget cannot be met (a late answer rather than none); null for the client's default.</summary>
    public bool? AlwaysAnswer { get; set; }

    /// <summary>The call's deadline from now, over all of its retries or reconnections; null for the client's default.</summary>
    public TimeSpan? Timeout { get; set; }

    /// <summary>Extra metadata sent with the call.</summary>
    public Metadata? Headers { get; set; }
}
