using System.Diagnostics;
using DfbNet.Core;
using DfbNet.Runtime.Scheduling;

namespace DfbNet.Runtime;

/// <summary>
/// The runtime's spans (activity source <c>DfbNet.Runtime</c>): one per frame, from its arrival to its final event, and
/// under it one per stage run, tagged with the batch it ran in. With no listener (tracing off, the default) nothing is
/// created: <see cref="ActivitySource.StartActivity(string, ActivityKind)"/> returns null and the frame carries none.
/// </summary>
public static class RuntimeTracing
{
    public const string SourceName = "DfbNet.Runtime";

    private static readonly ActivitySource Source = new(SourceName);
    private static readonly string[] StageNames = [.. Enumerable.Range(1, 32).Select(s => $"stage {s}")];

    /// <summary>True while a tracer listens to the runtime's spans (tracing is on).</summary>
    public static bool Enabled => Source.HasListeners();

    /// <summary>The frame's span, started back at its arrival; null when nobody listens.</summary>
    internal static Activity? StartFrame(string model, FrameRequest request, TimeSpan sinceArrival)
    {
        if (!Source.HasListeners() || request.IsWarmup)
        {
            return null;
        }

        var parent = request.TraceParent != default ? request.TraceParent : Activity.Current?.Context ?? default;
        var activity = Source.StartActivity("frame", ActivityKind.Internal, parent, startTime: DateTimeOffset.UtcNow - sinceArrival);
        activity?.SetTag("dfbnet.model", model)
            .SetTag("dfbnet.frame_id", request.FrameId)
            .SetTag("dfbnet.mode", request.Mode.ToString());
        return activity;
    }

    /// <summary>A span per frame of a batch that ran <paramref name="stage"/> (0-based), ending now.</summary>
    internal static void RecordStage(List<ScheduledFrame> batch, int stage, long batchId, string provider, TimeSpan elapsed)
    {
        DateTimeOffset? start = null;
        foreach (var frame in batch)
        {
            if (frame.Activity is not { } parent)
            {
                continue;
            }

            start ??= DateTimeOffset.UtcNow - elapsed;
            using var span = Source.StartActivity(stage < StageNames.Length ? StageNames[stage] : $"stage {stage + 1}", ActivityKind.Internal, parent.Context, startTime: start.Value);
            if (span is null)
            {
                continue;
            }

            span.SetTag("dfbnet.stage", stage + 1)
                .SetTag("dfbnet.batch.id", batchId)
                .SetTag("dfbnet.batch.size", batch.Count)
                .SetTag("dfbnet.provider", provider);
            span.SetEndTime(start.Value.UtcDateTime + elapsed);
        }
    }

    /// <summary>Ends the frame's span with its answer (an error status for an error event).</summary>
    internal static void EndFrame(ScheduledFrame frame, ExitEvent final)
    {
        if (frame.Activity is not { } activity)
        {
            return;
        }

        activity.SetTag("dfbnet.exit", final.Exit).SetTag("dfbnet.kind", final.Kind.ToString()).SetTag("dfbnet.exits_computed", final.ExitsComputed);
        if (final.Kind == ExitKind.Error)
        {
            activity.SetStatus(ActivityStatusCode.Error, final.Error);
        }

        activity.Dispose();
        frame.Activity = null;
    }

    /// <summary>Ends the span of a frame its caller abandoned.</summary>
    internal static void AbandonFrame(ScheduledFrame frame)
    {
        if (frame.Activity is not { } activity)
        {
            return;
        }

        activity.SetStatus(ActivityStatusCode.Error, "cancelled by the caller");
        activity.Dispose();
        frame.Activity = null;
    }
}
