using System.Globalization;
using DfbNet.Core;
using DfbNet.Runtime;
using Grpc.Core;
using Proto = DfbNet.Protocol.V1;

namespace DfbNet.Server.Internal;

/// <summary>A native call's or stream's settings after defaults (<see cref="RequestResolver"/>), with its top-k and queue policy.</summary>
internal sealed record ResolvedOptions(FrameSettings Settings, int TopK, StreamQueuePolicy? QueuePolicy)
{
    public EarlyExitEngine Engine => Settings.Engine;

    public InferenceMode Mode => Settings.Mode;

    public TimeSpan? Budget => Settings.Budget;

    public const string ModelHeader = "dfbnet-model";
    public const string ModeHeader = "dfbnet-mode";
    public const string PresetHeader = "dfbnet-preset";
    public const string ThresholdsHeader = "dfbnet-thresholds";
    public const string BudgetHeader = "dfbnet-budget-ms";
    public const string TopKHeader = "dfbnet-top-k";
    public const string QueuePolicyHeader = "dfbnet-queue-policy";
    public const string AlwaysAnswerHeader = "dfbnet-always-answer";

    /// <summary>The model a call names (its options win over the <c>dfbnet-model</c> header); null for the default model.</summary>
    public static string? ModelName(Proto.StreamOptions? options, Metadata? headers) =>
        NonEmpty(options?.Model) ?? NonEmpty(headers?.GetValue(ModelHeader));

    /// <summary>Merges message options (which win), call metadata and the server's defaults, for the model version that
    /// runs the call's frames.</summary>
    /// <exception cref="RpcException">NOT_FOUND for an unknown model; INVALID_ARGUMENT for a bad preset, threshold, mode, budget or top-k.</exception>
    public static ResolvedOptions Resolve(Proto.StreamOptions? options, Metadata? headers, EarlyExitEngine engine, DfbNetServerOptions defaults)
    {
        InferenceMode? mode = options?.Mode switch
        {
            Proto.InferenceMode.FirstExit => InferenceMode.FirstExit,
            Proto.InferenceMode.Refine => InferenceMode.Refine,
            Proto.InferenceMode.Full => InferenceMode.Full,
            _ => ParseMode(headers?.GetValue(ModeHeader)),
        };

        string? preset = null;
        IReadOnlyList<float>? thresholds = null;
        switch (options?.Thresholds?.SelectionCase)
        {
            case Proto.ThresholdSelection.SelectionOneofCase.Preset:
                preset = options.Thresholds.Preset;
                break;
            case Proto.ThresholdSelection.SelectionOneofCase.Explicit:
                thresholds = options.Thresholds.Explicit.Values;
                if (thresholds.Count == 0)
                {
                    throw Invalid("options.thresholds.explicit.values is empty.");
                }

                break;
            default:
                thresholds = ParseThresholds(headers?.GetValue(ThresholdsHeader));
                preset = headers?.GetValue(PresetHeader);
                break;
        }

        // Unset or zero: the server's default budget.
        var budget = options?.Budget is { } d ? ToBudget(d, "options.budget") : ParseBudget(headers?.GetValue(BudgetHeader));
        var alwaysAnswer = options?.AlwaysAnswer == true || ParseBool(headers?.GetValue(AlwaysAnswerHeader), AlwaysAnswerHeader);
        var settings = RequestResolver.Resolve(engine, new RequestedSettings(mode, preset, thresholds, budget, alwaysAnswer), defaults);

        var topK = options?.TopK > 0 ? (int)options.TopK : ParseInt(headers?.GetValue(TopKHeader), TopKHeader) ?? defaults.DefaultTopK;
        if (topK < 1)
        {
            throw Invalid($"top_k is {topK}; expected at least 1.");
        }

        var queuePolicy = options?.QueuePolicy switch
        {
            Proto.QueuePolicy.Queue => StreamQueuePolicy.Queue,
            Proto.QueuePolicy.Latest => StreamQueuePolicy.Latest,
            _ => ParseQueuePolicy(headers?.GetValue(QueuePolicyHeader)),
        };

        return new ResolvedOptions(settings, Math.Min(topK, engine.Classes.Count), queuePolicy);
    }

    /// <summary>The stream's queue policy from call metadata alone (protocols whose messages carry no stream options).</summary>
    public static StreamQueuePolicy? QueuePolicyFrom(Metadata? headers) => ParseQueuePolicy(headers?.GetValue(QueuePolicyHeader));

    private static StreamQueuePolicy? ParseQueuePolicy(string? value) =>
        string.IsNullOrWhiteSpace(value) ? null
        : value.Trim().ToLowerInvariant() switch
        {
            "queue" => StreamQueuePolicy.Queue,
            "latest" => StreamQueuePolicy.Latest,
            _ => throw Invalid($"{QueuePolicyHeader} '{value}' is not one of queue, latest."),
        };

    private static bool ParseBool(string? value, string key) =>
        !string.IsNullOrWhiteSpace(value) && (bool.TryParse(value.Trim(), out var b) ? b : throw Invalid($"{key} '{value}' is not true or false."));

    /// <summary>A frame's own budget, or null to keep the stream's.</summary>
    /// <summary>The longest budget a request may ask for (as <c>DfbNet:DefaultBudgetMs</c> allows).</summary>
    public static readonly TimeSpan MaxBudget = TimeSpan.FromHours(1);

    /// <exception cref="RpcException">INVALID_ARGUMENT for a negative or malformed duration, or one over an hour.</exception>
    public static TimeSpan? ToBudget(Google.Protobuf.WellKnownTypes.Duration duration, string field)
    {
        if (duration.Seconds < 0 || duration.Nanos < 0)
        {
            throw Invalid($"{field} is negative.");
        }

        // Checked before converting: a duration past TimeSpan's range would throw, and nanos must be below a second.
        if (duration.Nanos > 999_999_999 || duration.Seconds > (long)MaxBudget.TotalSeconds || (duration.Seconds == (long)MaxBudget.TotalSeconds && duration.Nanos > 0))
        {
            throw Invalid($"{field} is out of range: a budget is at most {MaxBudget.TotalSeconds:0} s, with nanos below 1e9.");
        }

        var budget = duration.ToTimeSpan();
        return budget == TimeSpan.Zero ? null : budget;
    }

    private static InferenceMode? ParseMode(string? value) =>
        string.IsNullOrWhiteSpace(value) ? null
        : SettingText.TryParseMode(value, out var mode) ? mode
        : throw Invalid($"{ModeHeader} '{value}' is not one of {SettingText.ModeNames}.");

    private static float[]? ParseThresholds(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        return SettingText.TryParseThresholds(value, out var result, out var problem)
            ? result
            : throw Invalid($"{ThresholdsHeader} {problem}.");
    }

    private static TimeSpan? ParseBudget(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) || ms < 0 || !double.IsFinite(ms))
        {
            throw Invalid($"{BudgetHeader} '{value}' is not a non-negative number of milliseconds.");
        }

        if (ms > MaxBudget.TotalMilliseconds)
        {
            throw Invalid($"{BudgetHeader} '{value}' is out of range: a budget is at most {MaxBudget.TotalMilliseconds:0} ms.");
        }

        return ms == 0 ? null : TimeSpan.FromMilliseconds(ms);
    }

    private static int? ParseInt(string? value, string key)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        return int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw Invalid($"{key} '{value}' is not an integer.");
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
