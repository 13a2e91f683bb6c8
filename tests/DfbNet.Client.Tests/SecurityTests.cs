using DfbNet.Testing;
using Grpc.Core;

namespace DfbNet.Client.Tests;

/// <summary>Sets DFBNET_API_KEY, which every client in the process would read: runs alone.</summary>
[CollectionDefinition(nameof(SecurityTests), DisableParallelization = true)]
public sealed class SecurityTestsCollection;

/// <summary>The SDK against servers that require API keys, TLS and mutual TLS (certificates from scripts/make-test-certs.sh).</summary>
[Collection(nameof(SecurityTests))]
public sealed class SecurityTests
{
    private const string Key = "k-sdk-test-0123456789";

    [Fact]
    public async Task ApiKey_FromOptionsOrFromTheEnvironment_ClassifiesAndStreams_NoneIsUnauthenticated()
    {
        await using var server = await LoopbackServer.StartAsync($"--DfbNet:Auth:ApiKeys:sdk={Key}");
        using (var anonymous = new DfbNetClient(new DfbNetClientOptions { Address = server.Address }))
        {
            var ex = await Assert.ThrowsAsync<RpcException>(() => anonymous.ClassifyAsync(Images.Png(0)));
            Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        }

        using (var keyed = new DfbNetClient(new DfbNetClientOptions { Address = server.Address, ApiKey = Key }))
        {
            Assert.Equal("tiny", (await keyed.ClassifyAsync(Images.Png(1))).Model);
            var finals = 0;
            await foreach (var e in keyed.StreamAsync(Images.Frames(5)))
            {
                finals += e.IsFinal ? 1 : 0;
            }

            Assert.Equal(5, finals);
        }

        Environment.SetEnvironmentVariable(DfbNetClientOptions.ApiKeyEnvironmentVariable, Key);
        try
        {
            using var fromEnvironment = new DfbNetClient(new DfbNetClientOptions { Address = server.Address, ApiKeyHeader = ApiKeyHeader.XApiKey });
            Assert.Equal("tiny", (await fromEnvironment.ClassifyAsync(Images.Png(2))).Model);
            Assert.Equal(Key, server.Calls.All[^1].Headers.GetValue("x-api-key"));
        }
        finally
        {
            Environment.SetEnvironmentVariable(DfbNetClientOptions.ApiKeyEnvironmentVariable, null);
        }
    }

    [Fact]
    public async Task Tls_CaCertificateFile_TrustsTheServer_WithoutItTheSystemStoreDoesNot()
    {
        await using var server = await LoopbackServer.StartTlsAsync();
        Assert.Equal("https", server.Address.Scheme);
        using var trusting = new DfbNetClient(new DfbNetClientOptions { Address = server.Address, CaCertificateFile = TestCredentials.File("ca.pem"), MaxRetries = 0 });
        Assert.Equal("tiny", (await trusting.ClassifyAsync(Images.Png(0))).Model);

        using var other = new DfbNetClient(new DfbNetClientOptions { Address = server.Address, CaCertificateFile = TestCredentials.File("rogue-ca.pem"), MaxRetries = 0 });
        var ex = await Assert.ThrowsAsync<RpcException>(() => other.ClassifyAsync(Images.Png(0)));
        Assert.Contains("SSL", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MutualTls_ClientCertificateFiles_AreAccepted_ARogueOneIsNot()
    {
        await using var server = await LoopbackServer.StartTlsAsync($"--DfbNet:Tls:ClientCaFile={TestCredentials.File("ca.pem")}");
        using var client = new DfbNetClient(new DfbNetClientOptions
        {
            Address = server.Address,
            CaCertificateFile = TestCredentials.File("ca.pem"),
            ClientCertificateFile = TestCredentials.File("client.pem"),
            ClientKeyFile = TestCredentials.File("client.key"),
        });
        Assert.Equal("tiny", (await client.ClassifyAsync(Images.Png(0))).Model);
        var finals = 0;
        await foreach (var e in client.StreamAsync(Images.Frames(3)))
        {
            finals += e.IsFinal ? 1 : 0;
        }

        Assert.Equal(3, finals);

        using var rogue = new DfbNetClient(new DfbNetClientOptions
        {
            Address = server.Address,
            CaCertificateFile = TestCredentials.File("ca.pem"),
            ClientCertificateFile = TestCredentials.File("rogue-client.pem"),
            ClientKeyFile = TestCredentials.File("rogue-client.key"),
            MaxRetries = 0,
        });
        await Assert.ThrowsAsync<RpcException>(() => rogue.ClassifyAsync(Images.Png(0)));
    }

    [Fact]
    public void TlsFiles_Mistakes_AreOneArgumentExceptionNamingTheOption()
    {
        var http = Assert.Throws<ArgumentException>(() => new DfbNetClient(new DfbNetClientOptions { Address = new Uri("http://localhost:1"), CaCertificateFile = TestCredentials.File("ca.pem") }));
        Assert.Contains("CaCertificateFile is set, but Address 'http://localhost:1/' is not https://.", http.Message, StringComparison.Ordinal);

        var missing = Assert.Throws<ArgumentException>(() => new DfbNetClient(new DfbNetClientOptions { Address = new Uri("https://localhost:1"), ClientCertificateFile = "/nonexistent/client.pem" }));
        Assert.Contains("ClientCertificateFile '/nonexistent/client.pem' does not exist.", missing.Message, StringComparison.Ordinal);

        var notPem = Assert.Throws<ArgumentException>(() => new DfbNetClient(new DfbNetClientOptions { Address = new Uri("https://localhost:1"), ClientCertificateFile = TestCredentials.File("client.key") }));
        Assert.StartsWith($"ClientCertificateFile '{TestCredentials.File("client.key")}' cannot be loaded", notPem.Message, StringComparison.Ordinal);
    }
}
