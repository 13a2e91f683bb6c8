using DfbNet.Core;
using DfbNet.Runtime;
using Grpc.Core;

namespace DfbNet.Server.Internal;

/// <summary>What a request asked for, in protocol-neutral terms; null (or false) where it said nothing.</summary>
/// <param name="Mode">The inference mode.</param>
/// <param name="Preset">A threshold preset name.</param>
/// <param name="Thresholds">Explicit thresholds (they win over a preset).</param>
/// <param name="Budget">The latency budget: null when not given (the server's default applies), zero for none.</param>
/// <param name="AlwaysAnswer">Run exit 1 whatever the budget.</param>
internal readonly record struct RequestedSettings(InferenceMode? Mode, string? Preset, IReadOnlyList<float>? Thresholds, TimeSpan? Budget, bool AlwaysAnswer);

/// <summary>A request's frame settings after the server's defaults.</summary>
internal sealed record FrameSettings(EarlyExitEngine Engine, ExitPolicy Policy, InferenceMode Mode, TimeSpan? Budget, bool AlwaysAnswer)
{
    /// <summary>A frame with these settings.</summary>
    public FrameRequest Frame(string frameId, Runtime.Preprocessing.ImageSource image, long receivedTimestamp, TimeSpan? budget = null) =>
        new(frameId, image, Policy, Mode, budget ?? Budget, receivedTimestamp) { AlwaysAnswer = AlwaysAnswer };
}

/// <summary>The one resolver of every protocol's requests: the model's policy, and the server's defaults for what the
/// request left out. Protocol adapters only read their wire formats into <see cref="RequestedSettings"/>.</summary>
internal static class RequestResolver
{
    /// <exception cref="RpcException">INVALID_ARGUMENT for an unknown preset or bad thresholds.</exception>
    public static FrameSettings Resolve(EarlyExitEngine engine, RequestedSettings requested, DfbNetServerOptions defaults)
    {
        var preset = requested.Thresholds is { Count: > 0 } ? null : requested.Preset ?? (string.IsNullOrEmpty(defaults.DefaultPreset) ? null : defaults.DefaultPreset);
        ExitPolicy policy;
        try
        {
            policy = engine.ResolvePolicy(preset, requested.Thresholds);
        }
        catch (ArgumentException ex)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, ex.Message));
        }

        var budget = requested.Budget switch
        {
            null => defaults.DefaultBudgetMs > 0 ? TimeSpan.FromMilliseconds(defaults.DefaultBudgetMs) : (TimeSpan?)null,
            { } b when b == TimeSpan.Zero => null,
            { } b => b,
        };

        return new FrameSettings(engine, policy, requested.Mode ?? defaults.DefaultMode, budget, requested.AlwaysAnswer);
    }
}
