using System.Diagnostics.Metrics;

namespace DfbNet.Runtime;

/// <summary>The runtime's instruments (meter <c>DfbNet.Runtime</c>), exported by whatever metrics pipeline the host configures.</summary>
public static class RuntimeMetrics
{
    public const string MeterName = "DfbNet.Runtime";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Moves of a stage's traffic between execution providers (breaker opened or closed), tagged stage, from, to.</summary>
    public static Counter<long> ProviderSwitches { get; } = Meter.CreateCounter<long>("dfbnet.provider.switches", description: "Stage traffic moved between execution providers by the circuit breaker");

    /// <summary>Sessions created per provider, tagged stage and provider: which provider each stage got at load.</summary>
    public static Counter<long> SessionsCreated { get; } = Meter.CreateCounter<long>("dfbnet.provider.sessions", description: "Stage sessions created, by execution provider");
}
