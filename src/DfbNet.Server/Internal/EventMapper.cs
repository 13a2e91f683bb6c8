using DfbNet.Core;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Proto = DfbNet.Protocol.V1;

namespace DfbNet.Server.Internal;

/// <summary>Engine events to wire events: class names, top-k, durations; and the one mapping of frame failures to status codes.</summary>
internal static class EventMapper
{
    public static Proto.ExitEvent ToProto(ExitEvent e, IReadOnlyList<string> classes, int topK)
    {
        var result = new Proto.ExitEvent
        {
            FrameId = e.FrameId,
            Exit = e.Exit,
            Kind = ToProto(e.Kind),
            Final = e.IsFinal,
            ServerTime = Duration.FromTimeSpan(e.ServerTime),
            ExitsComputed = e.ExitsComputed,
            QueueTime = Duration.FromTimeSpan(e.QueueTime),
            Preset = e.Preset ?? "",
        };

        if (e.Prediction is { } p)
        {
            result.Prediction = ToProto(p, classes, topK);
        }

        if (e.RunningFusion is { } f)
        {
            result.RunningFusion = ReferenceEquals(f, e.Prediction) ? result.Prediction : ToProto(f, classes, topK);
        }

        if (e.Kind == ExitKind.Error)
        {
            result.Error = e.Error ?? "";
            result.ErrorCode = ToStatusCode(e.ErrorCode).ToString();
        }

        return result;
    }

    public static StatusCode ToStatusCode(FrameErrorCode code) => code switch
    {
        FrameErrorCode.None => StatusCode.OK,
        FrameErrorCode.InvalidArgument => StatusCode.InvalidArgument,
        FrameErrorCode.ResourceExhausted => StatusCode.ResourceExhausted,
        FrameErrorCode.Unavailable => StatusCode.Unavailable,
        FrameErrorCode.NotFound => StatusCode.NotFound,
        _ => StatusCode.Internal,
    };

    public static FrameErrorCode FromStatusCode(StatusCode code) => code switch
    {
        StatusCode.OK => FrameErrorCode.None,
        StatusCode.InvalidArgument => FrameErrorCode.InvalidArgument,
        StatusCode.ResourceExhausted => FrameErrorCode.ResourceExhausted,
        StatusCode.Unavailable => FrameErrorCode.Unavailable,
        StatusCode.NotFound => FrameErrorCode.NotFound,
        _ => FrameErrorCode.Internal,
    };

    public static Proto.ExitKind ToProto(ExitKind kind) => kind switch
    {
        ExitKind.BelowThreshold => Proto.ExitKind.BelowThreshold,
        ExitKind.EarlyExit => Proto.ExitKind.EarlyExit,
        ExitKind.Refinement => Proto.ExitKind.Refinement,
        ExitKind.Fused => Proto.ExitKind.Fused,
        ExitKind.BudgetCut => Proto.ExitKind.BudgetCut,
        ExitKind.Error => Proto.ExitKind.Error,
        ExitKind.Dropped => Proto.ExitKind.Dropped,
        _ => Proto.ExitKind.Unspecified,
    };

    public static Proto.InferenceMode ToProto(InferenceMode mode) => mode switch
    {
        InferenceMode.FirstExit => Proto.InferenceMode.FirstExit,
        InferenceMode.Refine => Proto.InferenceMode.Refine,
        InferenceMode.Full => Proto.InferenceMode.Full,
        _ => Proto.InferenceMode.Unspecified,
    };

    private static Proto.Prediction ToProto(Prediction p, IReadOnlyList<string> classes, int topK)
    {
        var result = new Proto.Prediction
        {
            ClassIndex = p.ClassIndex,
            ClassName = classes[p.ClassIndex],
            Confidence = p.Confidence,
        };

        // Selection of the k largest by repeated scan: k is small (default 5) and K is the class count.
        var probabilities = p.Probabilities;
        Span<bool> taken = probabilities.Length <= 1024 ? stackalloc bool[probabilities.Length] : new bool[probabilities.Length];
        for (var n = 0; n < topK; n++)
        {
            var best = -1;
            for (var i = 0; i < probabilities.Length; i++)
            {
                if (!taken[i] && (best < 0 || probabilities[i] > probabilities[best]))
                {
                    best = i;
                }
            }

            taken[best] = true;
            result.TopK.Add(new Proto.ClassScore { ClassIndex = best, ClassName = classes[best], Probability = probabilities[best] });
        }

        return result;
    }
}
