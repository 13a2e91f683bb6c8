using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DfbNet.Server;

/// <summary>Healthy once the model registry has loaded every model, until the server starts shutting down.</summary>
internal sealed class ModelsHealthCheck(ModelRegistry registry, Internal.ServerDrain drain) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(
            drain.IsDraining ? HealthCheckResult.Unhealthy("shutting down")
            : registry.Names.Count > 0 ? HealthCheckResult.Healthy($"{registry.Names.Count} model(s) loaded")
            : HealthCheckResult.Unhealthy("no model loaded"));
}
