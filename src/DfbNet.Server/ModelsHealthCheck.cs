using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DfbNet.Server;

/// <summary>Healthy once the model registry has loaded every model, until the server starts shutting down; degraded
/// while a stage's traffic runs on its CPU fallback.</summary>
internal sealed class ModelsHealthCheck(ModelRegistry registry, Internal.ServerDrain drain) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (drain.IsDraining)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("shutting down"));
        }

        if (registry.Names.Count == 0)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("no model loaded"));
        }

        var fallen = registry.Names
            .SelectMany(name => registry.GetOrThrow(name).Stages.Where(s => s.OnFallback).Select(s => $"{name} stage {s.Index + 1}"))
            .ToList();
        return Task.FromResult(fallen.Count > 0
            ? HealthCheckResult.Degraded($"on the CPU fallback: {string.Join(", ", fallen)}")
            : HealthCheckResult.Healthy($"{registry.Names.Count} model(s) loaded"));
    }
}
