using Microsoft.Extensions.Options;

namespace DfbNet.Client.Internal;

/// <summary>Checks <see cref="DfbNetClientOptions"/> once, at the first resolution from DI or in the client's constructor.</summary>
internal sealed class DfbNetClientOptionsValidator : IValidateOptions<DfbNetClientOptions>
{
    public ValidateOptionsResult Validate(string? name, DfbNetClientOptions options)
    {
        var failures = new List<string>();
        if (options.Address is null || !options.Address.IsAbsoluteUri || options.Address.Scheme is not ("http" or "https"))
        {
            failures.Add($"Address '{options.Address}' must be an absolute http:// or https:// address (for example http://localhost:50051).");
        }

        if (options.ApiKey is { } key && (key.Length == 0 || key.Any(char.IsControl)))
        {
            failures.Add("ApiKey is empty or contains control characters.");
        }

        var tlsFiles = new[] { (nameof(options.CaCertificateFile), options.CaCertificateFile), (nameof(options.ClientCertificateFile), options.ClientCertificateFile), (nameof(options.ClientKeyFile), options.ClientKeyFile) };
        foreach (var (setting, file) in tlsFiles)
        {
            if (string.IsNullOrEmpty(file))
            {
                continue;
            }

            if (options.Address is { Scheme: not "https" })
            {
                failures.Add($"{setting} is set, but Address '{options.Address}' is not https://.");
            }

            if (!File.Exists(file))
            {
                failures.Add($"{setting} '{file}' does not exist.");
            }
        }

        if (!string.IsNullOrEmpty(options.ClientKeyFile) && string.IsNullOrEmpty(options.ClientCertificateFile))
        {
            failures.Add("ClientKeyFile is set without ClientCertificateFile.");
        }

        if (!string.IsNullOrEmpty(options.CaCertificateFile) && options.ServerCertificateValidation is not null)
        {
            failures.Add("CaCertificateFile and ServerCertificateValidation both decide which server certificates to trust; set one.");
        }

        if (options.Budget is { } budget && budget < TimeSpan.Zero)
        {
            failures.Add($"Budget {budget} is negative.");
        }

        if (options.Timeout is { } timeout && timeout <= TimeSpan.Zero)
        {
            failures.Add($"Timeout {timeout} is not positive.");
        }

        if (options.TopK < 0)
        {
            failures.Add($"TopK {options.TopK} is negative.");
        }

        if (options.MaxRetries < 0)
        {
            failures.Add($"MaxRetries {options.MaxRetries} is negative.");
        }

        if (options.MaxStreamReconnects < 0)
        {
            failures.Add($"MaxStreamReconnects {options.MaxStreamReconnects} is negative.");
        }

        if (options.RetryDelay <= TimeSpan.Zero || options.MaxRetryDelay < options.RetryDelay)
        {
            failures.Add($"RetryDelay {options.RetryDelay} must be positive and at most MaxRetryDelay {options.MaxRetryDelay}.");
        }

        if (options.MaxFramesInFlight < 1)
        {
            failures.Add($"MaxFramesInFlight {options.MaxFramesInFlight} must be at least 1.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
