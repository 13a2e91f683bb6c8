using DfbNet.Protocol.V1;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;

namespace DfbNet.Server.Tests;

public sealed class ClassifyTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Classify_Png_ReturnsEveryExitEventAndTheAnswer()
    {
        var response = await _server.Client.ClassifyAsync(new ClassifyRequest
        {
            Image = Frames.Png(0),
            FrameId = "img-0",
            Options = new StreamOptions { Mode = InferenceMode.Full, TopK = 3 },
        });

        Assert.Equal("tiny", response.Model);
        Assert.Equal([1, 2, 3, 0], response.Events.Select(e => e.Exit));
        Assert.Equal(ExitKind.Fused, response.Answer.Kind);
        Assert.Equal(response.Events[^1], response.Answer);
        Assert.True(response.Answer.Final);
        Assert.All(response.Events, e => Assert.Equal("img-0", e.FrameId));
        Assert.All(response.Events, e => Assert.Equal(3, e.Prediction.TopK.Count));
        var answer = response.Answer.Prediction;
        Assert.Equal(answer.ClassIndex, answer.TopK[0].ClassIndex);
        Assert.Equal(answer.Confidence, answer.TopK[0].Probability);
        Assert.Equal(_server.Models.TryGet("tiny", out var engine) ? engine.Classes[answer.ClassIndex] : null, answer.ClassName);
        Assert.True(answer.TopK[0].Probability >= answer.TopK[1].Probability);
    }

    [Fact]
    public async Task Classify_RawAndPngGiveTheSameAnswer()
    {
        var options = new StreamOptions { Mode = InferenceMode.FirstExit, Thresholds = new ThresholdSelection { Preset = "balanced" } };
        var raw = await _server.Client.ClassifyAsync(new ClassifyRequest { Image = Frames.Raw(4), Options = options });
        var png = await _server.Client.ClassifyAsync(new ClassifyRequest { Image = Frames.Png(4), Options = options });
        Assert.Equal(raw.Answer.Prediction, png.Answer.Prediction);
        Assert.Equal(raw.Answer.Exit, png.Answer.Exit);
    }

    [Fact]
    public async Task Classify_CorruptImage_IsInvalidArgument()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await _server.Client.ClassifyAsync(new ClassifyRequest { Image = Frames.CorruptJpeg(1) }));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("JPEG", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Classify_MissingImage_IsInvalidArgumentNamingTheField()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await _server.Client.ClassifyAsync(new ClassifyRequest()));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("image", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Classify_UnknownModel_IsNotFound()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await _server.Client.ClassifyAsync(new ClassifyRequest { Image = Frames.Raw(0), Options = new StreamOptions { Model = "nope" } }));
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Contains("tiny", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("preset", "nope")]
    [InlineData("thresholds", "0.5,0.5")]
    [InlineData("thresholds", "0.5,x,0.5")]
    [InlineData("mode", "fastest")]
    [InlineData("budget", "-3")]
    public async Task Classify_BadMetadataOption_IsInvalidArgument(string key, string value)
    {
        var headers = new Metadata { { "dfbnet-" + (key == "budget" ? "budget-ms" : key), value } };
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await _server.Client.ClassifyAsync(new ClassifyRequest { Image = Frames.Raw(0) }, headers));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
    }

    [Fact]
    public async Task Classify_SecondModelByName_UsesItsOwnInputSize()
    {
        // The second model takes 16x16 input: a 32x32 frame is resized.
        var response = await _server.Client.ClassifyAsync(new ClassifyRequest { Image = Frames.Raw(0), Options = new StreamOptions { Model = "second", Mode = InferenceMode.Full } });
        Assert.Equal("second", response.Model);
        Assert.Equal([1, 2, 0], response.Events.Select(e => e.Exit));
    }

    [Fact]
    public async Task Classify_MetadataSelectsModeAndThresholds()
    {
        var headers = new Metadata { { "dfbnet-mode", "refine" }, { "dfbnet-thresholds", "0,0,0" } };
        var response = await _server.Client.ClassifyAsync(new ClassifyRequest { Image = Frames.Raw(1) }, headers);
        Assert.Equal([ExitKind.EarlyExit, ExitKind.Refinement, ExitKind.Refinement, ExitKind.Fused], response.Events.Select(e => e.Kind));
    }

    [Fact]
    public async Task GetModelInfo_DescribesExitsPresetsProviderAndLatency()
    {
        var info = await _server.Client.GetModelInfoAsync(new GetModelInfoRequest());
        Assert.Equal("tiny", info.Name);
        Assert.True(info.IsDefault);
        Assert.True(info.Untrained);
        Assert.Equal(10, info.Classes.Count);
        Assert.Equal("airplane", info.Classes[0]);
        Assert.Equal(32, info.InputWidth);
        Assert.Equal("CPU", info.ExecutionProvider);
        Assert.Equal([1, 2, 3], info.Exits.Select(e => e.Exit));
        Assert.All(info.Exits, e => Assert.True(e.LatencyEstimate.ToTimeSpan() > TimeSpan.Zero));
        Assert.All(info.Exits, e => Assert.Equal("CPU", e.ExecutionProvider));
        Assert.All(info.Exits, e => Assert.False(e.CapturesGraph));
        Assert.Equal("balanced", info.DefaultPreset);
        Assert.Equal([0.9f, 0.9f, 0f], info.Presets.Single(p => p.Name == "balanced").Values);
        Assert.Equal(["second", "tiny"], info.ServedModels.Order());
        Assert.Equal(InferenceMode.FirstExit, info.DefaultMode);
    }

    [Fact]
    public async Task Health_IsServing()
    {
        var health = new Health.HealthClient(_server.Channel);
        var response = await health.CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
    }

    [Fact]
    public async Task Reflection_ListsTheNativeService()
    {
        var reflection = new ServerReflection.ServerReflectionClient(_server.Channel);
        using var call = reflection.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("dfbnet.v1.DfbNet", services);
        Assert.Contains("grpc.health.v1.Health", services);
    }
}
