using DfbNet.Core;
using DfbNet.Core.Manifest;
using DfbNet.Runtime.Scheduling;
using Microsoft.Extensions.Logging;

namespace DfbNet.Runtime;

/// <summary>
/// A model's threshold policies: its presets (built once), the thresholds a request names checked against the model,
/// and the quality ladder that trades accuracy for speed as the model's queues fill.
/// </summary>
public sealed class ModelPolicies
{
    private readonly string _model;
    private readonly int _exits;
    private readonly Dictionary<string, ExitPolicy> _presets;
    private readonly (double Load, ExitPolicy Policy)[] _ladder;
    private readonly RefineRule _refineRule;

    public ModelPolicies(string model, ModelManifest manifest, IReadOnlyList<QualityRung> ladder, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(ladder);
        _model = model;
        _exits = manifest.Stages.Count;
        // The manifest validator has checked the name; absent means fusion.
        _refineRule = RefineRules.TryParse(manifest.Thresholds.RefineRule, out var rule) ? rule : RefineRule.Fusion;
        _presets = manifest.Thresholds.Presets.ToDictionary(p => p.Key, p => new ExitPolicy(p.Value, p.Key, _refineRule), StringComparer.Ordinal);
        Default = _presets[manifest.Thresholds.Default];
        var rungs = new List<(double, ExitPolicy)>();
        foreach (var rung in ladder.OrderBy(r => r.Load))
        {
            if (_presets.TryGetValue(rung.Preset, out var policy))
            {
                rungs.Add((rung.Load, policy));
            }
            else
            {
                RuntimeLog.QualityRungSkipped(logger, model, rung.Preset, rung.Load);
            }
        }

        _ladder = [.. rungs];
    }

    /// <summary>The manifest's default preset.</summary>
    public ExitPolicy Default { get; }

    /// <summary>Resolves a request's thresholds: explicit values win, then a preset name, then the default preset.</summary>
    /// <exception cref="ArgumentException">Unknown preset, wrong count or a value outside [0, 1].</exception>
    public ExitPolicy Resolve(string? preset, IReadOnlyList<float>? thresholds)
    {
        if (thresholds is { Count: > 0 })
        {
            if (thresholds.Count != _exits)
            {
                throw new ArgumentException($"{thresholds.Count} thresholds given; model '{_model}' has {_exits} exits.");
            }

            for (var i = 0; i < thresholds.Count; i++)
            {
                if (!(thresholds[i] >= 0f && thresholds[i] <= 1f))
                {
                    throw new ArgumentException($"Threshold {i + 1} is {thresholds[i]}; thresholds must lie in [0, 1].");
                }
            }

            return new ExitPolicy(thresholds, refineRule: _refineRule);
        }

        if (string.IsNullOrEmpty(preset))
        {
            return Default;
        }

        return _presets.TryGetValue(preset, out var policy)
            ? policy
            : throw new ArgumentException($"Model '{_model}' has no preset '{preset}' (presets: {string.Join(", ", _presets.Keys)}).");
    }

    /// <summary>The policy a frame runs with at <paramref name="load"/> (admitted frames over the bound): the highest rung
    /// reached, for a frame that runs a preset; the requested one otherwise.</summary>
    public ExitPolicy ForLoad(ExitPolicy requested, double load)
    {
        ArgumentNullException.ThrowIfNull(requested);
        if (requested.Preset is null)
        {
            return requested;
        }

        var chosen = requested;
        foreach (var (rungLoad, policy) in _ladder)
        {
            if (load < rungLoad)
            {
                break;
            }

            chosen = policy;
        }

        return chosen;
    }
}
