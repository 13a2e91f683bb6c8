using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>Tries providers in order and creates a session with the first one that can run; logs each one skipped.</summary>
public sealed class ExecutionProviderChain
{
    private readonly IReadOnlyList<IExecutionProvider> _providers;

    // Providers already reported as skipped: a machine without a GPU says so once, not per stage of every model.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _reportedSkips = new(StringComparer.Ordinal);

    internal ExecutionProviderChain(IReadOnlyList<IExecutionProvider> providers)
    {
        ArgumentNullException.ThrowIfNull(providers);
        if (providers.Count == 0)
        {
            throw new ArgumentException("The provider chain is empty.", nameof(providers));
        }

        _providers = providers;
    }

    /// <summary>CPU alone.</summary>
    public static ExecutionProviderChain CpuOnly { get; } = new([new CpuExecutionProvider()]);

    internal IReadOnlyList<IExecutionProvider> Providers => _providers;

    /// <summary>True when a provider of the chain captures graphs.</summary>
    public bool CapturesGraphs => _providers.Any(p => p.CapturesGraphs);

    /// <summary>The same chain with graph capture off.</summary>
    public ExecutionProviderChain WithoutGraphCapture() => CapturesGraphs ? new([.. _providers.Select(p => p.WithoutGraphCapture())]) : this;

    /// <summary>Builds a chain from a list such as <c>tensorrt,cuda,cpu</c>.</summary>
    /// <exception cref="ArgumentException">An unknown provider name, or an empty list.</exception>
    public static ExecutionProviderChain Parse(string names, ExecutionProviderSettings? settings = null)
    {
        settings ??= new ExecutionProviderSettings();
        var providers = new List<IExecutionProvider>();
        foreach (var name in (names ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            providers.Add(name.ToLowerInvariant() switch
            {
                "tensorrt" or "trt" => new TensorRtExecutionProvider(settings.DeviceId, settings.TensorRtEngineCachePath, settings.TensorRtFp16, settings.CudaGraphs),
                "cuda" => new CudaExecutionProvider(settings.DeviceId, settings.CudaGraphs, settings.CudaProviderOptions),
                "cpu" => new CpuExecutionProvider(),
                _ => throw new ArgumentException($"Unknown execution provider '{name}' in '{names}'; known: tensorrt, cuda, cpu."),
            });
        }

        return providers.Count == 0
            ? throw new ArgumentException("The execution provider list is empty; use for example 'tensorrt,cuda,cpu' or 'cpu'.")
            : new ExecutionProviderChain(providers);
    }

    /// <summary>Creates a session for <paramref name="modelPath"/> on the first provider that works.</summary>
    /// <param name="modelPath">The ONNX file.</param>
    /// <param name="configure">Applies the engine's common settings (threads, optimisation level) to fresh options.</param>
    /// <param name="logger">Receives one entry per skipped provider.</param>
    internal StageSession CreateSession(string modelPath, Action<SessionOptions> configure, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var reasons = new List<string>();
        foreach (var provider in _providers)
        {
            using var options = new SessionOptions();
            try
            {
                configure(options);

                // The session keeps what it needs from the options.
                if (provider.TryCreateSession(modelPath, options, out var reason) is { } session)
                {
                    return session;
                }

                Skipped(logger, provider.Name, modelPath, reason ?? "unavailable");
                reasons.Add($"{provider.Name}: {reason}");
            }
            catch (OnnxRuntimeException ex) when (provider is not CpuExecutionProvider)
            {
                Skipped(logger, provider.Name, modelPath, ex.Message);
                reasons.Add($"{provider.Name}: {ex.Message}");
            }
        }

        throw new InvalidOperationException($"No execution provider could load {modelPath}: {string.Join("; ", reasons)}");
    }

    /// <summary>One warning line per provider for the chain (the server has one for all its models), with the first
    /// line of its reason; every skip with the full reason at Debug.</summary>
    private void Skipped(ILogger logger, string provider, string modelPath, string reason)
    {
        RuntimeLog.ProviderSkippedDetail(logger, provider, modelPath, reason);
        if (_reportedSkips.TryAdd(provider, 0))
        {
            var line = reason.Split('\n', 2)[0].Trim();
            RuntimeLog.ProviderSkipped(logger, provider, line.Length > 200 ? line[..200] + "..." : line);
        }
    }
}

/// <summary>Provider settings shared by the chain's GPU providers.</summary>
public sealed class ExecutionProviderSettings
{
    public int DeviceId { get; set; }

    public string? TensorRtEngineCachePath { get; set; }

    public bool TensorRtFp16 { get; set; }

    /// <summary>Capture each stage as a CUDA graph and replay it (CUDA and TensorRT providers); on by default.</summary>
    public bool CudaGraphs { get; set; } = true;

    /// <summary>ONNX Runtime CUDA provider options added to or overriding the defaults (for example <c>prefer_nhwc</c>).</summary>
    public IReadOnlyDictionary<string, string>? CudaProviderOptions { get; set; }
}
