using Microsoft.Extensions.DependencyInjection;
using DfbNet.Core.Manifest;
using DfbNet.Core.Onnx;

namespace DfbNet.Server.Tests;

public sealed class StartupTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "dfbnet-startup-" + Guid.NewGuid().ToString("N"));

    public StartupTests()
    {
        SyntheticModelFolder.Write(Path.Combine(_root, "tiny"), new SyntheticDfbNetOptions { InputSize = 16, StageWidths = [4, 8], BranchWidth = 4 });
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task UnknownDefaultModel_StopsStartupNamingItAndTheModelsFound()
    {
        await using var app = TestServer.Build(_root, "--DfbNet:DefaultModel=missing");
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => app.StartAsync());
        Assert.Contains("'missing'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("tiny", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingModelRoot_StopsStartup()
    {
        await using var app = TestServer.Build(Path.Combine(_root, "nowhere"));
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => app.StartAsync());
        Assert.Contains("ModelRoot", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadManifest_StopsStartupNamingTheField()
    {
        var manifest = Path.Combine(_root, "tiny", ModelManifest.FileName);
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("0.9,", "1.9,", StringComparison.Ordinal));
        await using var app = TestServer.Build(_root);
        var ex = await Assert.ThrowsAsync<ManifestException>(() => app.StartAsync());
        Assert.StartsWith("thresholds.presets.balanced[", ex.Field, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("MaxFramesInFlightPerStream", "0")]
    [InlineData("DecodeMemoryBytes", "1000")]
    [InlineData("ExecutorNiceness", "20")]
    public async Task InvalidOption_StopsStartupNamingIt(string option, string value)
    {
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(async () =>
        {
            await using var app = TestServer.Build(_root, $"--DfbNet:{option}={value}");
            await app.StartAsync();
        });
        Assert.Contains(option, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--DfbNet:DefaultModel=missing", "'missing'")]
    [InlineData("--DfbNet:MaxBatchSize=0", "MaxBatchSize")]
    [InlineData("--DfbNet:QualityLadder=2=fast", "DfbNet:QualityLadder")]
    [InlineData("--urls=http://0.0.0.0:0", "DfbNet:Auth requires credentials (the server listens on http://0.0.0.0:0")]
    public async Task ServerProcess_BadConfiguration_PrintsOneLineAndExitsWithTwo(string setting, string named)
    {
        // The real executable, started from another directory: one line on stderr, no stack trace, exit code 2.
        var server = Path.Combine(AppContext.BaseDirectory, "dfbnet-server.dll");
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { WorkingDirectory = Path.GetTempPath(), RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { server, "--urls", "http://127.0.0.1:0", $"--DfbNet:ModelRoot={_root}", "--DfbNet:DefaultModel=tiny", "--DfbNet:ExecutionProviders=cpu", "--Logging:LogLevel:Default=None", setting })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var lines = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        _ = await stdout;
        Assert.Equal(2, process.ExitCode);
        var line = Assert.Single(lines);
        Assert.StartsWith("dfbnet-server: ", line, StringComparison.Ordinal);
        Assert.Contains(named, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownExecutionProvider_StopsStartupNamingTheSetting()
    {
        await using var app = TestServer.Build(_root, "--DfbNet:ExecutionProviders=cuda,vulkan");
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => app.StartAsync());
        Assert.StartsWith("DfbNet:ExecutionProviders:", ex.Message, StringComparison.Ordinal);
        Assert.Contains("vulkan", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DefaultProviderChain_OnAMachineWithoutGpu_ServesOnCpu()
    {
        await using var app = TestServer.Build(_root, "--DfbNet:ExecutionProviders=tensorrt,cuda,cpu");
        await app.StartAsync();
        var registry = app.Services.GetService(typeof(ModelRegistry)) as ModelRegistry;
        Assert.True(registry!.TryGet(null, out var engine));
        Assert.Equal("CPU", engine.ExecutionProvider);
        await app.StopAsync();
    }

    [Fact]
    public async Task CudaGraphsAndProviderOptions_OnAMachineWithoutGpu_ServeOnCpuWithoutCapture()
    {
        await using var app = TestServer.Build(_root, "--DfbNet:ExecutionProviders=tensorrt,cuda,cpu", "--DfbNet:CudaGraphs=true", "--DfbNet:CudaProviderOptions:prefer_nhwc=1");
        await app.StartAsync();
        var options = (Microsoft.Extensions.Options.IOptions<DfbNetServerOptions>)app.Services.GetService(typeof(Microsoft.Extensions.Options.IOptions<DfbNetServerOptions>))!;
        Assert.Equal("1", options.Value.CudaProviderOptions["prefer_nhwc"]);
        var registry = app.Services.GetService(typeof(ModelRegistry)) as ModelRegistry;
        Assert.True(registry!.TryGet(null, out var engine));
        Assert.Equal("CPU", engine.ExecutionProvider);
        Assert.False(engine.CapturesGraphs);
        await app.StopAsync();
    }

    [Theory]
    [InlineData("--urls=http://*:0", "DfbNet:Auth requires credentials (the server listens on http://*:0, not only on loopback)")]
    [InlineData("--DfbNet:Auth:Enabled=true", "DfbNet:Auth requires credentials (DfbNet:Auth:Enabled is true)")]
    [InlineData("--DfbNet:Auth:Enabled=maybe", "DfbNet:Auth: ")]
    [InlineData("--DfbNet:Auth:ApiKeyFile=/nonexistent/keys", "DfbNet:Auth:ApiKeyFile '/nonexistent/keys' cannot be read")]
    [InlineData("--DfbNet:Auth:ApiKeys:a= ", "DfbNet:Auth:ApiKeys:a: key 'a' is empty")]
    [InlineData("--DfbNet:Auth:Jwt:JwksFile=/nonexistent/jwks.json", "DfbNet:Auth:Jwt:JwksFile is set, so DfbNet:Auth:Jwt:Issuer and DfbNet:Auth:Jwt:Audience must be too")]
    [InlineData("--DfbNet:Auth:Quotas:x:FramesPerSecond=-1", "DfbNet:Auth:Quotas:x: FramesPerSecond")]
    [InlineData("--urls=https://127.0.0.1:0", "DfbNet:Tls:CertificateFile is not set, but the server is to listen on https://127.0.0.1:0")]
    [InlineData("--DfbNet:Tls:CertificateFile=/nonexistent/server.pem", "make every address (Urls) https://")]
    [InlineData("--DfbNet:Tls:ClientCaFile=/nonexistent/ca.pem", "DfbNet:Tls:ClientCaFile is set without DfbNet:Tls:CertificateFile")]
    public void SecuritySettings_Mistakes_StopStartupWithOneLineNamingTheSetting(string setting, string message)
    {
        var ex = Assert.ThrowsAny<Exception>(() => TestServer.Build(_root, setting));
        var line = StartupError.Describe(ex);
        Assert.NotNull(line);
        Assert.Contains(message, line, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public void KeyFile_ABadLine_IsNamedByFileAndLine_WithoutTheKey()
    {
        var file = Path.Combine(_root, "keys.txt");
        File.WriteAllLines(file, ["# keys", "a:secret-one-1234", "b:secret-one-1234"]);
        var ex = Assert.Throws<InvalidOperationException>(() => TestServer.Build(_root, $"--DfbNet:Auth:ApiKeyFile={file}"));
        Assert.Equal($"DfbNet:Auth:ApiKeyFile '{file}' line 3: key 'b' is the same as key 'a'.", StartupError.Describe(ex));
    }

    [Fact]
    public async Task AllAddresses_AuthCanBeTurnedOffExplicitly()
    {
        await using var app = TestServer.Build(_root, "--urls=http://0.0.0.0:0", "--DfbNet:Auth:Enabled=false");
        Assert.False(app.Services.GetRequiredService<Internal.AuthPlan>().Enabled);
    }
}
