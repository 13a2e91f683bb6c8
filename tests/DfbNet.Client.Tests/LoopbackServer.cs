using System.Collections.Concurrent;
using DfbNet.Core.Onnx;
using DfbNet.Server;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace DfbNet.Client.Tests;

/// <summary>
/// A real DfbNet server (Kestrel, HTTP/2) on a loopback port serving the tiny synthetic model "tiny", which can be
/// stopped and started again on the same port. An interceptor records the metadata of every call it receives.
/// </summary>
public sealed class LoopbackServer : IAsyncDisposable
{
    private readonly string _root;
    private readonly string[] _extraArgs;
    private readonly string _scheme;
    private WebApplication? _app;

    private LoopbackServer(string root, string[] extraArgs, string scheme)
    {
        _root = root;
        _extraArgs = extraArgs;
        _scheme = scheme;
    }

    public Uri Address { get; private set; } = null!;

    /// <summary>The metadata of every call received, in arrival order, across restarts.</summary>
    public CallLog Calls { get; } = new();

    public static Task<LoopbackServer> StartAsync(params string[] extraArgs) => StartAsync("http", extraArgs);

    /// <summary>A server on https:// with the certificate of scripts/make-test-certs.sh (and more settings, such as a client CA).</summary>
    public static Task<LoopbackServer> StartTlsAsync(params string[] extraArgs) => StartAsync(
        "https",
        [
            $"--DfbNet:Tls:CertificateFile={DfbNet.Testing.TestCredentials.File("server.pem")}",
            $"--DfbNet:Tls:KeyFile={DfbNet.Testing.TestCredentials.File("server.key")}",
            .. extraArgs,
        ]);

    private static async Task<LoopbackServer> StartAsync(string scheme, string[] extraArgs)
    {
        var root = Path.Combine(Path.GetTempPath(), "dfbnet-client-" + Guid.NewGuid().ToString("N"));
        SyntheticModelFolder.Write(Path.Combine(root, "tiny"), new SyntheticDfbNetOptions { InputSize = 32, Seed = 7 });
        var server = new LoopbackServer(root, extraArgs, scheme);
        await server.StartOnAsync(port: 0);
        return server;
    }

    /// <summary>Stops the server abruptly (open calls are aborted, as when a process dies).</summary>
    public async Task StopAsync()
    {
        if (_app is null)
        {
            return;
        }

        using var now = new CancellationTokenSource();
        await now.CancelAsync();
        await _app.StopAsync(now.Token);
        await _app.DisposeAsync();
        _app = null;
    }

    /// <summary>Starts a new server on the same port.</summary>
    public Task RestartAsync() => StartOnAsync(Address.Port);

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Directory.Delete(_root, recursive: true);
    }

    private async Task StartOnAsync(int port)
    {
        string[] args =
        [
            "--urls", $"{_scheme}://127.0.0.1:{port}",
            $"--DfbNet:ModelRoot={_root}",
            "--DfbNet:DefaultModel=tiny",
            "--DfbNet:IntraOpThreads=1",
            "--DfbNet:WarmupRuns=1",
            "--Logging:LogLevel:Default=Warning",
            .. _extraArgs,
        ];
        var app = ServerApplication.Build(args, builder =>
        {
            builder.Services.AddSingleton(Calls);
            builder.Services.Configure<GrpcServiceOptions>(grpc => grpc.Interceptors.Add<RecordingInterceptor>());
        });
        await app.StartAsync();
        _app = app;
        Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    /// <summary>Calls received by the server: method and request metadata.</summary>
    public sealed class CallLog
    {
        private readonly ConcurrentQueue<(string Method, Metadata Headers)> _calls = new();

        public IReadOnlyList<(string Method, Metadata Headers)> All => [.. _calls];

        public int Count(string method) => _calls.Count(c => c.Method.EndsWith("/" + method, StringComparison.Ordinal));

        internal void Add(string method, Metadata headers) => _calls.Enqueue((method, headers));
    }

    private sealed class RecordingInterceptor(CallLog log) : Interceptor
    {
        public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
        {
            log.Add(context.Method, context.RequestHeaders);
            return continuation(request, context);
        }

        public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
        {
            log.Add(context.Method, context.RequestHeaders);
            return continuation(requestStream, responseStream, context);
        }
    }
}
