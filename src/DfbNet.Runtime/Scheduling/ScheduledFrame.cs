using DfbNet.Core;
using DfbNet.Runtime.ExecutionProviders;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.Scheduling;

/// <summary>
/// A frame travelling through the scheduler: its request and <see cref="FrameEvaluation"/> (the decision state), where
/// its tensor between stages lives, whom to tell, and its place in the queues. Owned by one thread at a time: the
/// submitter, then the batcher (under its lock), then the executor running its batch.
/// </summary>
internal sealed class ScheduledFrame
{
    public ScheduledFrame(FrameRequest request, FrameEvaluation evaluation, IFrameEventSink sink, AdmissionClient? client, CancellationToken cancellationToken)
    {
        Request = request;
        Evaluation = evaluation;
        Sink = sink;
        Client = client;
        CancellationToken = cancellationToken;
    }

    public FrameRequest Request { get; }

    public FrameEvaluation Evaluation { get; }

    public IFrameEventSink Sink { get; }

    public AdmissionClient? Client { get; }

    public CancellationToken CancellationToken { get; }

    /// <summary>The tensor the next stage reads, on the host (pooled); null once a device holds it.</summary>
    public float[]? Host { get; set; }

    /// <summary>The next stage's input as a bound OrtValue (IOBinding path).</summary>
    public OrtValue? Bound { get; set; }

    /// <summary>The next stage's input in a pooled device buffer (captured-graph path).</summary>
    public DeviceBuffer? Device { get; set; }

    /// <summary>Order in its stage queue: smaller runs first (see <see cref="StageBatcher"/>).</summary>
    public long Key { get; set; }

    /// <summary>Tie-break of equal keys: submission order.</summary>
    public long Sequence { get; set; }

    /// <summary>When it entered its current stage queue (the maximum queue delay counts from here).</summary>
    public long EnqueuedTimestamp { get; set; }

    /// <summary>The frame's span, when traced (<see cref="RuntimeTracing"/>).</summary>
    public System.Diagnostics.Activity? Activity { get; set; }

    /// <summary>Stage run time spent on this frame so far (each batch's whole run).</summary>
    public TimeSpan Inference { get; set; }
}
