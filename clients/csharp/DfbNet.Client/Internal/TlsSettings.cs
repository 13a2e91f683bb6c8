using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace DfbNet.Client.Internal;

/// <summary>Turns the TLS options (<see cref="DfbNetClientOptions.CaCertificateFile"/>, client certificate files,
/// callbacks) into the handler's <see cref="SslClientAuthenticationOptions"/>.</summary>
internal static class TlsSettings
{
    public static void Apply(DfbNetClientOptions options, SslClientAuthenticationOptions ssl)
    {
        if (options.ServerCertificateValidation is { } validate)
        {
            ssl.RemoteCertificateValidationCallback = validate;
        }

        if (!string.IsNullOrEmpty(options.CaCertificateFile))
        {
            var authorities = new X509Certificate2Collection();
            Load(nameof(options.CaCertificateFile), options.CaCertificateFile, () => authorities.ImportFromPemFile(options.CaCertificateFile));
            if (authorities.Count == 0)
            {
                throw new ArgumentException($"CaCertificateFile '{options.CaCertificateFile}' holds no PEM certificate.", nameof(options));
            }

            ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) => ChainsTo(certificate, errors, authorities);
        }

        var certificates = options.ClientCertificates is { } given ? new X509CertificateCollection(given) : null;
        if (!string.IsNullOrEmpty(options.ClientCertificateFile))
        {
            var file = options.ClientCertificateFile;
            var key = string.IsNullOrEmpty(options.ClientKeyFile) ? null : options.ClientKeyFile;
            X509Certificate2? certificate = null;
            Load(nameof(options.ClientCertificateFile), file, () => certificate = X509Certificate2.CreateFromPemFile(file, key));
            (certificates ??= []).Add(certificate!);
        }

        if (certificates is not null)
        {
            ssl.ClientCertificates = certificates;
        }
    }

    /// <summary>The certificate names the host (no name mismatch) and chains to one of the given CAs, which replace the
    /// system's trust store.</summary>
    private static bool ChainsTo(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2Collection authorities)
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }

    private static void Load(string setting, string file, Action load)
    {
        try
        {
            load();
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{setting} '{file}' cannot be loaded: {ex.Message}", ex);
        }
    }
}
