using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace DfbNet.Server.Internal;

/// <summary>The server's certificate and, for mutual TLS, the CAs client certificates must chain to
/// (<see cref="DfbNetTlsOptions"/>), loaded and checked once at start-up.</summary>
internal sealed class TlsCertificates
{
    private const string Section = DfbNetTlsOptions.SectionName;
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    private readonly X509Certificate2 _server;
    private readonly X509Certificate2Collection? _clientCas;

    private TlsCertificates(X509Certificate2 server, X509Certificate2Collection? clientCas)
    {
        _server = server;
        _clientCas = clientCas;
    }

    public bool MutualTls => _clientCas is not null;

    /// <summary>Null when no certificate is configured (every address must then be http://).</summary>
    /// <exception cref="InvalidOperationException">Naming the setting: an address of the wrong scheme, an unreadable or
    /// expired certificate, a key that does not match, a CA file with no certificate.</exception>
    public static TlsCertificates? Load(IConfiguration configuration, IReadOnlyList<string> addresses, DateTimeOffset now)
    {
        var options = ConfigurationSections.Bind<DfbNetTlsOptions>(configuration, Section);
        if (string.IsNullOrWhiteSpace(options.CertificateFile))
        {
            if (addresses.FirstOrDefault(ServerAddresses.IsHttps) is { } https)
            {
                throw new InvalidOperationException($"{Section}:CertificateFile is not set, but the server is to listen on {https}; set it (and {Section}:KeyFile), or use an http:// address.");
            }

            return string.IsNullOrWhiteSpace(options.ClientCaFile)
                ? null
                : throw new InvalidOperationException($"{Section}:ClientCaFile is set without {Section}:CertificateFile; mutual TLS needs the server's certificate too.");
        }

        if (addresses.FirstOrDefault(a => !ServerAddresses.IsHttps(a)) is { } plain)
        {
            throw new InvalidOperationException($"{Section}:CertificateFile is set, but the server is to listen on {plain} without TLS; make every address (Urls) https://.");
        }

        X509Certificate2 server;
        try
        {
            server = X509Certificate2.CreateFromPemFile(options.CertificateFile, string.IsNullOrWhiteSpace(options.KeyFile) ? null : options.KeyFile);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new InvalidOperationException($"{Section}:CertificateFile '{options.CertificateFile}'{(string.IsNullOrWhiteSpace(options.KeyFile) ? "" : $" with {Section}:KeyFile '{options.KeyFile}'")} cannot be loaded: {ex.Message}", ex);
        }

        if (now > server.NotAfter || now < server.NotBefore)
        {
            var subject = server.Subject;
            var (from, until) = (server.NotBefore, server.NotAfter);
            server.Dispose();
            throw new InvalidOperationException($"{Section}:CertificateFile '{options.CertificateFile}' ({subject}) is valid from {from:u} to {until:u}, not now.");
        }

        X509Certificate2Collection? cas = null;
        if (!string.IsNullOrWhiteSpace(options.ClientCaFile))
        {
            cas = [];
            try
            {
                cas.ImportFromPemFile(options.ClientCaFile);
            }
            catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
            {
                server.Dispose();
                throw new InvalidOperationException($"{Section}:ClientCaFile '{options.ClientCaFile}' cannot be read: {ex.Message}", ex);
            }

            if (cas.Count == 0)
            {
                server.Dispose();
                throw new InvalidOperationException($"{Section}:ClientCaFile '{options.ClientCaFile}' holds no PEM certificate.");
            }
        }

        return new TlsCertificates(server, cas);
    }

    /// <summary>Kestrel's defaults for every https:// address.</summary>
    public void Apply(HttpsConnectionAdapterOptions https)
    {
        https.ServerCertificate = _server;
        if (_clientCas is { } cas)
        {
            https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
            https.ClientCertificateValidation = (certificate, _, _) => ChainsToClientCa(certificate, cas);
        }
    }

    /// <summary>The client's certificate chains to one of the configured CAs and allows client authentication (the system's
    /// trust store plays no part).</summary>
    private static bool ChainsToClientCa(X509Certificate2 certificate, X509Certificate2Collection cas)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(cas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ClientAuthentication);
        var valid = chain.Build(certificate);
        foreach (var element in chain.ChainElements)
        {
            if (!ReferenceEquals(element.Certificate, certificate))
            {
                element.Certificate.Dispose();
            }
        }

        return valid;
    }
}
