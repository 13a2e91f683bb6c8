namespace DfbNet.Server;

/// <summary>
/// TLS on the server's <c>https://</c> addresses, bound from <c>DfbNet:Tls</c>: a PEM certificate chain and key, and
/// optionally a client CA that turns on mutual TLS (a client must present a certificate issued by it).
/// </summary>
public sealed class DfbNetTlsOptions
{
    public const string SectionName = DfbNetServerOptions.SectionName + ":Tls";

    /// <summary>The server's certificate (PEM; the chain may follow it). Every gRPC address must be https:// when set.</summary>
    public string? CertificateFile { get; set; }

    /// <summary>The certificate's private key (PEM); empty when <see cref="CertificateFile"/> holds it too.</summary>
    public string? KeyFile { get; set; }

    /// <summary>CA certificates (PEM) that client certificates must chain to; set, every connection needs one.</summary>
    public string? ClientCaFile { get; set; }
}
