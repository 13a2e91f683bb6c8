using DfbNet.Core.Onnx;
using DfbNet.Protocol.V1;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace DfbNet.Server.Tests;

/// <summary>A real DfbNet server on a loopback port (Kestrel, HTTP/2) serving tiny built models, and a channel to it.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private TestServer(WebApplication app, string root, GrpcChannel channel)
    {
        App = app;
        ModelRoot = root;
        Channel = channel;
        Client = new Protocol.V1.DfbNet.DfbNetClient(channel);
    }

    public WebApplication App { get; }

    public string ModelRoot { get; }

    public GrpcChannel Channel { get; }

    public Protocol.V1.DfbNet.DfbNetClient Client { get; }

    public ModelRegistry Models => App.Services.GetRequiredService<ModelRegistry>();

    /// <summary>Writes models "tiny" (the default) and "second" into a fresh model root and starts a server on it.</summary>
    public static Task<TestServer> StartAsync(params string[] extraArgs) => StartAsync(null, extraArgs);

    /// <param name="configure">Runs on the builder before the app is built (a test adds a log provider).</param>
    /// <param name="extraArgs">More command-line settings.</param>
    public static async Task<TestServer> StartAsync(Action<WebApplicationBuilder>? configure, params string[] extraArgs)
    {
        var root = Path.Combine(Path.GetTempPath(), "dfbnet-server-" + Guid.NewGuid().ToString("N"));
        SyntheticModelFolder.Write(Path.Combine(root, "tiny"), new SyntheticDfbNetOptions { InputSize = 32, Seed = 7 });
        SyntheticModelFolder.Write(Path.Combine(root, "second"), new SyntheticDfbNetOptions { InputSize = 16, Seed = 3, StageWidths = [4, 8], BranchWidth = 4 });
        var app = Build(root, configure, extraArgs);
        await app.StartAsync();
        var channel = GrpcChannel.ForAddress(GrpcAddress(app));
        return new TestServer(app, root, channel);
    }

    /// <summary>The started server's gRPC address (with <c>DfbNet:MetricsUrl</c> set it also listens for scrapes).</summary>
    public static string GrpcAddress(WebApplication app)
    {
        var metricsPort = app.Configuration["DfbNet:MetricsUrl"] is { Length: > 0 } metrics ? new Uri(metrics).Port : -1;
        return app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First(a => new Uri(a).Port != metricsPort);
    }

    /// <summary>Builds (does not start) a server on a model root, on a free loopback port.</summary>
    public static WebApplication Build(string modelRoot, params string[] extraArgs) => Build(modelRoot, null, extraArgs);

    public static WebApplication Build(string modelRoot, Action<WebApplicationBuilder>? configure, params string[] extraArgs)
    {
        string[] args =
        [
            "--urls", "http://127.0.0.1:0",
            $"--DfbNet:ModelRoot={modelRoot}",
            "--DfbNet:DefaultModel=tiny",
            "--DfbNet:IntraOpThreads=1",
            "--DfbNet:WarmupRuns=2",

            // This machine has no GPU: the default chain would log two skipped providers per stage for every test server
            // (the chain itself is tested in DfbNet.Runtime.Tests and by StartupTests).
            "--DfbNet:ExecutionProviders=cpu",

            // The admission rules are tested at their configured bounds: a load bound following this machine's speed
            // would move them (admission by expected wait has tests of its own, which set it).
            "--DfbNet:MaxExpectedWaitMicroseconds=0",
            "--Logging:LogLevel:Default=Warning",
            .. extraArgs,
        ];
        return ServerApplication.Build(args, configure);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        Directory.Delete(ModelRoot, recursive: true);
    }
}
