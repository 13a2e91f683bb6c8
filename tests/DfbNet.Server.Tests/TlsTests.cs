using System.Security.Cryptography.X509Certificates;
using DfbNet.Protocol.V1;
using DfbNet.Testing;
using Grpc.Core;
using Grpc.Net.Client;

namespace DfbNet.Server.Tests;

/// <summary>TLS and mutual TLS on Kestrel with certificates made by scripts/make-test-certs.sh.</summary>
public sealed class TlsTests
{
    private static readonly string[] Tls =
    [
        "--urls", "https://127.0.0.1:0",
        $"--DfbNet:Tls:CertificateFile={TestCredentials.File("server.pem")}",
        $"--DfbNet:Tls:KeyFile={TestCredentials.File("server.key")}",
    ];

    private static readonly StatusCode[] TransportFailures = [StatusCode.Unavailable, StatusCode.Internal];

    private static readonly string[] MutualTls = [.. Tls, $"--DfbNet:Tls:ClientCaFile={TestCredentials.File("ca.pem")}"];

    [Fact]
    public async Task Tls_ServesAClientThatTrustsTheCa()
    {
        await using var server = await TestServer.StartAsync(Tls);
        var address = TestServer.GrpcAddress(server.App);
        Assert.StartsWith("https://", address, StringComparison.Ordinal);
        var response = await Classify(address, clientCertificate: null);
        Assert.Equal("tiny", response.Model);
    }

    [Fact]
    public async Task Tls_AClientThatDoesNotTrustTheCertificate_CannotConnect()
    {
        await using var server = await TestServer.StartAsync(Tls);
        using var channel = GrpcChannel.ForAddress(TestServer.GrpcAddress(server.App));
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await new Protocol.V1.DfbNet.DfbNetClient(channel).ClassifyAsync(new ClassifyRequest { Image = Frames.Png(0) }));
        Assert.Contains("SSL connection could not be established", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MutualTls_ServesAClientCertificateFromTheCa()
    {
        await using var server = await TestServer.StartAsync(MutualTls);
        using var certificate = TestCredentials.Certificate("client");
        var response = await Classify(TestServer.GrpcAddress(server.App), certificate);
        Assert.Equal("tiny", response.Model);
    }

    [Fact]
    public async Task MutualTls_RefusesAClientWithoutACertificate_OrWithOneFromAnotherCa()
    {
        await using var server = await TestServer.StartAsync(MutualTls);
        var address = TestServer.GrpcAddress(server.App);
        // The server ends the handshake: the client sees the connection fail (UNAVAILABLE, or INTERNAL when the reset comes
        // after HttpClient has begun the request), never an answer.
        var none = await Assert.ThrowsAsync<RpcException>(() => Classify(address, clientCertificate: null));
        Assert.Contains(none.StatusCode, TransportFailures);

        using var rogue = TestCredentials.Certificate("rogue-client");
        var other = await Assert.ThrowsAsync<RpcException>(() => Classify(address, rogue));
        Assert.Contains(other.StatusCode, TransportFailures);
    }

    [Fact]
    public async Task TlsWithApiKeys_TheKeyTravelsEncrypted_AndIsChecked()
    {
        await using var server = await TestServer.StartAsync([.. Tls, "--DfbNet:Auth:ApiKeys:edge=k-over-tls-1234567890"]);
        var address = TestServer.GrpcAddress(server.App);
        var ex = await Assert.ThrowsAsync<RpcException>(() => Classify(address, null));
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        var response = await Classify(address, null, new Metadata { { "authorization", "Bearer k-over-tls-1234567890" } });
        Assert.Equal("tiny", response.Model);
    }

    private static async Task<ClassifyResponse> Classify(string address, X509Certificate2? clientCertificate, Metadata? headers = null)
    {
        using var ca = X509CertificateLoader.LoadCertificateFromFile(TestCredentials.File("ca.pem"));
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) => TestCredentials.ChainsTo(certificate, ca);
        if (clientCertificate is not null)
        {
            handler.SslOptions.ClientCertificates = [clientCertificate];
        }

        using var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = false });
        return await new Protocol.V1.DfbNet.DfbNetClient(channel).ClassifyAsync(new ClassifyRequest { Image = Frames.Png(0) }, headers);
    }
}
