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

    [Fact]
    public async Task InvalidOption_StopsStartupNamingIt()
    {
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(async () =>
        {
            await using var app = TestServer.Build(_root, "--DfbNet:MaxFramesInFlightPerStream=0");
            await app.StartAsync();
        });
        Assert.Contains("MaxFramesInFlightPerStream", ex.Message, StringComparison.Ordinal);
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
}
