using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace DfbNet.Testing;

/// <summary>
/// Real credentials for the auth and TLS tests: certificates made by the repository's own
/// <c>scripts/make-test-certs.sh</c> (openssl), once per test process, and JWTs signed with an RSA key whose JWKS file
/// the server reads.
/// </summary>
internal static class TestCredentials
{
    private static readonly Lazy<string> CertificateFolder = new(MakeCertificates, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<(RSA Key, string JwksFile)> Signing = new(MakeSigningKey, LazyThreadSafetyMode.ExecutionAndPublication);

    public const string Issuer = "https://issuer.test";
    public const string Audience = "dfbnet-tests";

    /// <summary>The folder holding ca.pem, server.pem/.key, client.pem/.key and rogue-ca.pem, rogue-client.pem/.key.</summary>
    public static string Certificates => CertificateFolder.Value;

    public static string File(string name) => Path.Combine(Certificates, name);

    public static X509Certificate2 Certificate(string name) => X509Certificate2.CreateFromPemFile(File(name + ".pem"), File(name + ".key"));

    /// <summary>A JWKS file holding the public key tokens from <see cref="Token"/> are signed with.</summary>
    public static string JwksFile => Signing.Value.JwksFile;

    /// <summary>A signed JWT; <paramref name="signWith"/> signs with another key than the JWKS file's.</summary>
    public static string Token(string subject, string? scope = "dfbnet.infer", string audience = Audience, TimeSpan? expiresIn = null, RSA? signWith = null)
    {
        var now = DateTime.UtcNow;
        var expires = now + (expiresIn ?? TimeSpan.FromMinutes(10));
        var claims = new Dictionary<string, object> { ["sub"] = subject };
        if (scope is not null)
        {
            claims["scope"] = scope;
        }

        var key = new RsaSecurityKey(signWith ?? Signing.Value.Key) { KeyId = signWith is null ? "test-key" : "other-key" };
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = audience,
            Claims = claims,
            IssuedAt = expires < now ? expires.AddMinutes(-10) : now,
            NotBefore = expires < now ? expires.AddMinutes(-10) : now,
            Expires = expires,
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
    }

    private static string MakeCertificates()
    {
        var folder = Path.Combine(Path.GetTempPath(), "dfbnet-certs-" + Guid.NewGuid().ToString("N"));
        var script = Path.Combine(RepositoryRoot.Path, "scripts", "make-test-certs.sh");
        using var process = Process.Start(new ProcessStartInfo("bash", [script, folder]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} failed ({process.ExitCode}): {error.Result}");
        }

        return folder;
    }

    private static (RSA, string) MakeSigningKey()
    {
        var rsa = RSA.Create(2048);
        var parameters = rsa.ExportParameters(includePrivateParameters: false);
        var jwks = JsonSerializer.Serialize(new
        {
            keys = new[]
            {
                new { kty = "RSA", use = "sig", alg = "RS256", kid = "test-key", n = Base64UrlEncoder.Encode(parameters.Modulus), e = Base64UrlEncoder.Encode(parameters.Exponent) },
            },
        });
        var file = Path.Combine(Path.GetTempPath(), "dfbnet-jwks-" + Guid.NewGuid().ToString("N") + ".json");
        System.IO.File.WriteAllText(file, jwks);
        return (rsa, file);
    }

    /// <summary>Accepts a server certificate that chains to <paramref name="ca"/> (a private CA), and no other.</summary>
    public static bool ChainsTo(X509Certificate? certificate, X509Certificate2 ca)
    {
        if (certificate is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }

}
