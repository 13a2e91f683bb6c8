using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using DfbNet.Protocol.V1;
using DfbNet.Testing;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Inference = DfbNet.Protocol.Inference;

namespace DfbNet.Server.Tests;

/// <summary>The auth matrix on a real server with API keys (configuration and a key file), JWTs checked against a JWKS
/// file, quotas and the per-endpoint policy.</summary>
public sealed class AuthTests : IAsyncLifetime, IDisposable
{
    private const string CameraKey = "k-camera-0123456789abcdef";
    private const string FileKey = "k-file-fedcba9876543210";
    private const string SlowKey = "k-slow-5555555555555555";

    private readonly string _keyFile = Path.Combine(Path.GetTempPath(), "dfbnet-keys-" + Guid.NewGuid().ToString("N"));
    private readonly int _metricsPort = LoopbackPort.Free();
    private readonly LogCollector _logs = new();
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        File.WriteAllLines(_keyFile, ["# name:key, one per line", "", $"gate-7:{FileKey}", $"slow:{SlowKey}"]);
        _server = await TestServer.StartAsync(
            builder => builder.Logging.AddProvider(_logs),
            $"--DfbNet:Auth:ApiKeys:camera-1={CameraKey}",
            $"--DfbNet:Auth:ApiKeyFile={_keyFile}",
            $"--DfbNet:Auth:Jwt:JwksFile={TestCredentials.JwksFile}",
            $"--DfbNet:Auth:Jwt:Issuer={TestCredentials.Issuer}",
            $"--DfbNet:Auth:Jwt:Audience={TestCredentials.Audience}",
            "--DfbNet:Auth:Jwt:RequiredScope=dfbnet.infer",
            "--DfbNet:Auth:Admins:0=camera-1",
            "--DfbNet:Auth:Quotas:slow:FramesPerSecond=2",
            "--DfbNet:Auth:Quotas:slow:MaxStreams=1",
            $"--DfbNet:MetricsUrl=http://127.0.0.1:{_metricsPort}",
            "--Logging:LogLevel:Default=Debug");
    }

    public void Dispose() => _logs.Dispose();

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        File.Delete(_keyFile);
    }

    [Fact]
    public async Task NoCredentials_IsUnauthenticated_WithAOneLineReason()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Classify(null));
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Contains("no credentials", ex.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Status.Detail);
    }

    [Theory]
    [InlineData("authorization", "Bearer not-a-key")]
    [InlineData("x-api-key", "not-a-key")]
    [InlineData("authorization", "Bearer " + CameraKey + "x")]
    public async Task WrongKey_IsUnauthenticated_AndTheKeyIsNotEchoed(string header, string value)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Classify(new Metadata { { header, value } }));
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Contains("API key is not one the server knows", ex.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("not-a-key", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("authorization", "Bearer " + CameraKey)]
    [InlineData("x-api-key", CameraKey)]
    [InlineData("authorization", "Bearer " + FileKey)]
    public async Task RightKey_FromConfigurationOrTheKeyFile_Classifies(string header, string value)
    {
        var response = await Classify(new Metadata { { header, value } });
        Assert.Equal("tiny", response.Model);
    }

    [Fact]
    public async Task Jwt_Valid_Classifies_AndItsSubjectNamesTheCaller()
    {
        var response = await Classify(Bearer(TestCredentials.Token("svc-a")));
        Assert.Equal("tiny", response.Model);
    }

    [Fact]
    public async Task Jwt_Expired_IsUnauthenticated()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Classify(Bearer(TestCredentials.Token("svc-a", expiresIn: TimeSpan.FromMinutes(-5)))));
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Contains("expired", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Jwt_WrongAudience_IsUnauthenticated()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Classify(Bearer(TestCredentials.Token("svc-a", audience: "someone-else"))));
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Contains("audience", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Jwt_SignedByAnotherKey_IsUnauthenticated()
    {
        using var other = RSA.Create(2048);
        var ex = await Assert.ThrowsAsync<RpcException>(() => Classify(Bearer(TestCredentials.Token("svc-a", signWith: other))));
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Contains("signature", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Jwt_WithoutTheRequiredScope_IsPermissionDenied_NotUnauthenticated()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Classify(Bearer(TestCredentials.Token("svc-b", scope: "something.else"))));
        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Contains("'svc-b'", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("dfbnet.infer", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenInferenceProtocol_NeedsCredentialsToo()
    {
        var oip = new Inference.GRPCInferenceService.GRPCInferenceServiceClient(_server.Channel);
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await oip.ServerReadyAsync(new Inference.ServerReadyRequest()));
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        var ready = await oip.ServerReadyAsync(new Inference.ServerReadyRequest(), Bearer(CameraKey));
        Assert.True(ready.Ready);
    }

    [Fact]
    public async Task RepositoryControl_NeedsAnAdmin_OthersArePermissionDenied()
    {
        var oip = new Inference.GRPCInferenceService.GRPCInferenceServiceClient(_server.Channel);
        var load = new Inference.RepositoryModelLoadRequest { ModelName = "second" };
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await oip.RepositoryModelLoadAsync(load, Bearer(FileKey)));
        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Contains("caller 'gate-7' may not load or unload models; add it to DfbNet:Auth:Admins", ex.Status.Detail, StringComparison.Ordinal);
        var token = await Assert.ThrowsAsync<RpcException>(async () => await oip.RepositoryModelUnloadAsync(new Inference.RepositoryModelUnloadRequest { ModelName = "second" }, Bearer(TestCredentials.Token("svc-c"))));
        Assert.Equal(StatusCode.PermissionDenied, token.StatusCode);

        await oip.RepositoryModelLoadAsync(load, Bearer(CameraKey));
        await oip.RepositoryModelLoadAsync(load, Bearer(TestCredentials.Token("ops", scope: "dfbnet.infer dfbnet.admin")));
        var index = await oip.RepositoryIndexAsync(new Inference.RepositoryIndexRequest { Ready = true }, Bearer(FileKey));
        Assert.Contains(index.Models, m => m.Name == "second");
    }

    [Fact]
    public async Task FrameQuota_RefusesFramesOverTheRate_WithResourceExhausted_AndTheStreamGoesOn()
    {
        using var call = _server.Client.ClassifyStream(Bearer(SlowKey));
        const int frames = 12;
        for (var i = 0; i < frames; i++)
        {
            await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"f{i}", Image = Frames.Png(i) } });
        }

        await call.RequestStream.CompleteAsync();
        var finals = new List<ExitEvent>();
        await foreach (var e in call.ResponseStream.ReadAllAsync())
        {
            if (e.Final)
            {
                finals.Add(e);
            }
        }

        // Every frame ends once; a burst of twelve against two per second: most are refused, the first two are not.
        Assert.Equal(frames, finals.Count);
        var refused = finals.Where(e => e.Kind == ExitKind.Error).ToList();
        Assert.InRange(refused.Count, frames - 4, frames - 2);
        Assert.All(refused, e => Assert.Equal("ResourceExhausted", e.ErrorCode));
        Assert.Contains("'slow'", refused[0].Error, StringComparison.Ordinal);
        Assert.Contains("DfbNet:Auth:Quotas:slow:FramesPerSecond", refused[0].Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamQuota_RefusesTheCallersSecondStream_OtherCallersAreNotAffected()
    {
        using var first = _server.Client.ClassifyStream(Bearer(SlowKey));
        await first.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = "a", Image = Frames.Png(1) } });
        Assert.True(await first.ResponseStream.MoveNext());

        using var second = _server.Client.ClassifyStream(Bearer(SlowKey));
        await second.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = "b", Image = Frames.Png(2) } });
        var ex = await Assert.ThrowsAsync<RpcException>(() => second.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Contains("DfbNet:Auth:Quotas:slow:MaxStreams", ex.Status.Detail, StringComparison.Ordinal);

        using var other = _server.Client.ClassifyStream(Bearer(CameraKey));
        await other.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = "c", Image = Frames.Png(3) } });
        Assert.True(await other.ResponseStream.MoveNext());
        await other.RequestStream.CompleteAsync();
        await first.RequestStream.CompleteAsync();
    }

    [Fact]
    public async Task Health_IsOpen_Reflection_IsClosed_ByDefault()
    {
        var health = await new Health.HealthClient(_server.Channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);

        var reflection = new ServerReflection.ServerReflectionClient(_server.Channel);
        using (var refused = reflection.ServerReflectionInfo())
        {
            await refused.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
            var ex = await Assert.ThrowsAsync<RpcException>(() => refused.ResponseStream.MoveNext());
            Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        }

        using var allowed = reflection.ServerReflectionInfo(Bearer(CameraKey));
        await allowed.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        Assert.True(await allowed.ResponseStream.MoveNext());
        Assert.Contains(allowed.ResponseStream.Current.ListServicesResponse.Service, s => s.Name == "dfbnet.v1.DfbNet");
        await allowed.RequestStream.CompleteAsync();
    }

    [Fact]
    public async Task Metrics_NeedAKey_AndAreServedOnTheirOwnPortOnly_WhateverTheHostHeader()
    {
        await Classify(Bearer(CameraKey));
        using var http = new HttpClient();
        var url = new Uri($"http://127.0.0.1:{_metricsPort}/metrics");
        using (var refused = await http.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, url) { Headers = { { "authorization", "Bearer " + CameraKey } } };
        using var scrape = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        var text = await scrape.Content.ReadAsStringAsync();
        Assert.Contains(text.Split('\n'), l => l.StartsWith("dfbnet_client_frames_total{", StringComparison.Ordinal) && l.Contains("client=\"camera-1\"", StringComparison.Ordinal));
        Assert.Contains("dfbnet_auth_refusals_total", text, StringComparison.Ordinal);

        // The gRPC port, asked for /metrics with the metrics port in :authority (RequireHost would have served it).
        using var h2c = new HttpClient();
        var grpcPort = new Uri(TestServer.GrpcAddress(_server.App)).Port;
        using var smuggled = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://127.0.0.1:{grpcPort}/metrics")) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        smuggled.Headers.Host = $"127.0.0.1:{_metricsPort}";
        smuggled.Headers.Add("authorization", "Bearer " + CameraKey);
        using var answer = await h2c.SendAsync(smuggled);
        Assert.Equal(HttpStatusCode.NotFound, answer.StatusCode);
    }

    [Fact]
    public async Task Logs_NameTheCaller_AndNeverShowAKeyOrAToken()
    {
        var token = TestCredentials.Token("svc-log");
        using (var call = _server.Client.ClassifyStream(Bearer(CameraKey)))
        {
            await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = "x", Image = Frames.Png(4) } });
            await call.RequestStream.CompleteAsync();
            await foreach (var e in call.ResponseStream.ReadAllAsync())
            {
                _ = e;
            }
        }

        await Classify(Bearer(token));
        await Assert.ThrowsAsync<RpcException>(() => Classify(Bearer(CameraKey + "x")));
        await Assert.ThrowsAsync<RpcException>(() => Classify(Bearer(TestCredentials.Token("svc-log", expiresIn: TimeSpan.FromMinutes(-5)))));

        var lines = _logs.Lines.ToArray();
        Assert.Contains(lines, l => l.Contains("opened by camera-1", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Authentication is on", StringComparison.Ordinal));
        foreach (var secret in new[] { CameraKey, FileKey, SlowKey, token, token.Split('.')[2] })
        {
            Assert.DoesNotContain(lines, l => l.Contains(secret, StringComparison.Ordinal));
        }
    }

    private Task<ClassifyResponse> Classify(Metadata? headers) =>
        _server.Client.ClassifyAsync(new ClassifyRequest { Image = Frames.Png(0) }, headers).ResponseAsync;

    private static Metadata Bearer(string credential) => new() { { "authorization", "Bearer " + credential } };

    private sealed class LogCollector : ILoggerProvider, ILogger
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue(formatter(state, exception) + (exception is null ? "" : " " + exception));

        public void Dispose()
        {
        }
    }
}
