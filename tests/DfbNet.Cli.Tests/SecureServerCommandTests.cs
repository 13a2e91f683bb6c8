using DfbNet.Runtime.Tests;
using DfbNet.Server.Tests;
using DfbNet.Testing;

namespace DfbNet.Cli.Tests;

/// <summary>classify, stream and load against a server that requires mutual TLS and an API key.</summary>
public sealed class SecureServerCommandTests : IAsyncLifetime
{
    private const string Key = "k-cli-test-0123456789";
    private readonly string _image = Path.Combine(Path.GetTempPath(), $"dfbnet-cli-tls-{Guid.NewGuid():N}.png");
    private TestServer _server = null!;
    private string _address = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllBytesAsync(_image, ImageEncoding.EncodePng(CifarSlice.Hwc(0), 32, 32));
        _server = await TestServer.StartAsync(
            "--urls", "https://127.0.0.1:0",
            $"--DfbNet:Tls:CertificateFile={TestCredentials.File("server.pem")}",
            $"--DfbNet:Tls:KeyFile={TestCredentials.File("server.key")}",
            $"--DfbNet:Tls:ClientCaFile={TestCredentials.File("ca.pem")}",
            $"--DfbNet:Auth:ApiKeys:cli={Key}");
        _address = TestServer.GrpcAddress(_server.App);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        File.Delete(_image);
    }

    private string[] Tls => ["--server", _address, "--ca", TestCredentials.File("ca.pem"), "--cert", TestCredentials.File("client.pem"), "--key", TestCredentials.File("client.key")];

    [Fact]
    public async Task Classify_WithCaClientCertificateAndKey_Answers()
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync(["classify", _image, .. Tls, "--api-key", Key]);
        Assert.True(code == 0, stderr);
        Assert.Contains(_image, stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_TakesTheKeyAndCertificatesFromTheEnvironment()
    {
        var environment = new Dictionary<string, string>
        {
            ["DFBNET_API_KEY"] = Key,
            ["DFBNET_CA_CERT"] = TestCredentials.File("ca.pem"),
            ["DFBNET_CLIENT_CERT"] = TestCredentials.File("client.pem"),
            ["DFBNET_CLIENT_KEY"] = TestCredentials.File("client.key"),
            ["DFBNET_SERVER"] = _address,
        };
        var (code, _, stderr) = await CliProcess.RunAsync(["stream", _image, "--quiet"], environment);
        Assert.True(code == 0, stderr);
    }

    [Fact]
    public async Task Classify_WithoutTheKey_IsOneLineNamingTheFix_ExitOne()
    {
        var (code, _, stderr) = await CliProcess.RunAsync(["classify", _image, .. Tls]);
        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("refused the call: Unauthenticated: the call carries no credentials", line, StringComparison.Ordinal);
        Assert.Contains("--api-key", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--ca", "/nonexistent/ca.pem", "--ca '/nonexistent/ca.pem' does not exist.")]
    [InlineData("--cert", "client.key", "cannot be loaded")]
    public async Task Classify_BadCertificateOption_IsOneLine_ExitTwo(string option, string value, string message)
    {
        var file = value.Contains('/', StringComparison.Ordinal) ? value : TestCredentials.File(value);
        var (code, _, stderr) = await CliProcess.RunAsync(["classify", _image, "--server", _address, option, file]);
        Assert.Equal(2, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(message, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Classify_CaWithAnHttpServer_IsOneLine_ExitTwo()
    {
        var (code, _, stderr) = await CliProcess.RunAsync(["classify", _image, "--server", "http://127.0.0.1:1", "--ca", TestCredentials.File("ca.pem")]);
        Assert.Equal(2, code);
        Assert.Contains("--ca is set, but --server http://127.0.0.1:1/ is not https://.", stderr, StringComparison.Ordinal);
    }
}
