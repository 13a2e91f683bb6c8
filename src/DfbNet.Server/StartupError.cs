using DfbNet.Core.Manifest;
using Microsoft.Extensions.Options;

namespace DfbNet.Server;

/// <summary>The one-line description of a start-up failure that is the operator's to fix (bad settings, a missing or
/// bad model, a port in use); null for anything else, which is a bug and keeps its stack trace.</summary>
public static class StartupError
{
    public static string? Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        for (var ex = exception; ex is not null; ex = ex.InnerException)
        {
            switch (ex)
            {
                case OptionsValidationException options:
                    return $"invalid configuration: {string.Join("; ", options.Failures)}";
                case ManifestException:
                    return ex.Message;
                case InvalidOperationException when ex.Message.StartsWith("DfbNet:", StringComparison.Ordinal):
                    return ex.Message;
                case IOException when ex.Message.Contains("Failed to bind", StringComparison.Ordinal):
                    return $"{ex.Message} (set Urls, or --urls, to a free address)";
                case AggregateException { InnerExceptions.Count: 1 } aggregate:
                    return Describe(aggregate.InnerExceptions[0]);
            }
        }

        return null;
    }
}
