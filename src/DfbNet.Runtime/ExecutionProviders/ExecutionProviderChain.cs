using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>Tries providers in order and creates a session with the first one that can run; logs each one skipped.</summary>
public sealed class ExecutionProviderChain
{
    private readonly IReadOnlyList<IExecutionProvider> _providers;

    public ExecutionProviderChain(IReadOnlyList<IExecutionProvider> providers)
    {
        ArgumentNullException.ThrowIfNull(providers);
        if (providers.Count == 0)
        {
            throw new ArgumentException("The provider chain is empty.", nameof(providers));
        }

        _providers = providers;
    }

    /// <summary>The default chain on a machine with no GPU providers configured: CPU alone.</summary>
    public static ExecutionProviderChain CpuOnly { get; } = new([new CpuExecutionProvider()]);

    public IReadOnlyList<IExecutionProvider> Providers => _providers;

    /// <summary>Creates a session for <paramref name="modelPath"/> on the first provider that works.</summary>
    /// <param name="modelPath">The ONNX file.</param>
    /// <param name="configure">Applies the engine's common settings (threads, optimisation level) to fresh options.</param>
    /// <param name="logger">Receives one entry per skipped provider.</param>
    public (InferenceSession Session, string Provider) CreateSession(string modelPath, Action<SessionOptions> configure, ILogger logger)
    {
        var reasons = new List<string>();
        foreach (var provider in _providers)
        {
            var options = new SessionOptions();
            try
            {
                configure(options);
                if (!provider.TryAppendTo(options, out var reason))
                {
                    RuntimeLog.ProviderSkipped(logger, provider.Name, modelPath, reason ?? "unavailable");
                    reasons.Add($"{provider.Name}: {reason}");
                    continue;
                }

                var session = new InferenceSession(modelPath, options);
                return (session, provider.Name);
            }
            catch (OnnxRuntimeException ex) when (provider is not CpuExecutionProvider)
            {
                RuntimeLog.ProviderSkipped(logger, provider.Name, modelPath, ex.Message);
                reasons.Add($"{provider.Name}: {ex.Message}");
            }
            finally
            {
                // The session keeps what it needs from the options.
                options.Dispose();
            }
        }

        throw new InvalidOperationException($"No execution provider could load {modelPath}: {string.Join("; ", reasons)}");
    }
}
