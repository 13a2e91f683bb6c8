using DfbNet.Core.Manifest;
using DfbNet.Core.Onnx;
using DfbNet.Protocol.V1;
using DfbNet.Runtime.Tests;
using DfbNet.Testing;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Inference = DfbNet.Protocol.Inference;

namespace DfbNet.Server.Tests;

/// <summary>The model repository on a real server: versions, load, reload and unload through Triton's repository API
/// while streams run, a version that fails to load, and polling of the model root.</summary>
public sealed class ModelLifecycleTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "dfbnet-lifecycle-" + Guid.NewGuid().ToString("N"));
    private WebApplication _app = null!;
    private GrpcChannel _channel = null!;
    private Inference.GRPCInferenceService.GRPCInferenceServiceClient _oip = null!;
    private Protocol.V1.DfbNet.DfbNetClient _native = null!;

    private static SyntheticDfbNetOptions Tiny(int seed) => new() { InputSize = 32, Seed = seed };

    public async Task InitializeAsync()
    {
        // tiny: versions 1 and 2 (2 is served); second: an unversioned folder (version 1).
        SyntheticModelFolder.Write(Path.Combine(_root, "tiny", "1"), Tiny(7));
        SyntheticModelFolder.Write(Path.Combine(_root, "tiny", "2"), Tiny(8));
        SyntheticModelFolder.Write(Path.Combine(_root, "second"), new SyntheticDfbNetOptions { InputSize = 16, Seed = 3, StageWidths = [4, 8], BranchWidth = 4 });
        _app = TestServer.Build(_root, "--DfbNet:MaxFramesInFlightPerStream=4", "--DfbNet:MaxAdmittedFrames=256");
        await _app.StartAsync();
        _channel = GrpcChannel.ForAddress(TestServer.GrpcAddress(_app));
        _oip = new Inference.GRPCInferenceService.GRPCInferenceServiceClient(_channel);
        _native = new Protocol.V1.DfbNet.DfbNetClient(_channel);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task VersionFolders_TheHighestIsServed_TheIndexListsEveryVersion_AndMetadataNamesIt()
    {
        var metadata = await _oip.ModelMetadataAsync(new Inference.ModelMetadataRequest { Name = "tiny" });
        Assert.Equal(["2"], metadata.Versions);
        Assert.True((await _oip.ModelReadyAsync(new Inference.ModelReadyRequest { Name = "tiny", Version = "2" })).Ready);
        var old = await Assert.ThrowsAsync<RpcException>(async () => await _oip.ModelReadyAsync(new Inference.ModelReadyRequest { Name = "tiny", Version = "1" }));
        Assert.Equal(StatusCode.NotFound, old.StatusCode);
        Assert.Contains("served: version 2", old.Status.Detail, StringComparison.Ordinal);

        var index = await _oip.RepositoryIndexAsync(new Inference.RepositoryIndexRequest());
        Assert.Equal(
            [("second", "1", "READY"), ("tiny", "1", "UNAVAILABLE"), ("tiny", "2", "READY")],
            index.Models.Select(m => (m.Name, m.Version, m.State)));
        var ready = await _oip.RepositoryIndexAsync(new Inference.RepositoryIndexRequest { Ready = true });
        Assert.Equal(2, ready.Models.Count);

        var answer = await _oip.ModelInferAsync(Infer("tiny", "x"));
        Assert.Equal("2", answer.ModelVersion);
    }

    [Fact]
    public async Task Reload_Under16Streams_NewFramesGoToTheNewVersion_NoneLostNoErrors_TheOldOneIsDisposed()
    {
        const int streams = 16;
        const int framesPerStream = 24;
        var loaded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sent = 0;

        async Task<List<Inference.ModelStreamInferResponse>> RunStream(int s)
        {
            using var call = _oip.ModelStreamInfer();
            var reader = Task.Run(async () =>
            {
                var list = new List<Inference.ModelStreamInferResponse>();
                await foreach (var r in call.ResponseStream.ReadAllAsync())
                {
                    list.Add(r);
                }

                return list;
            });
            for (var i = 0; i < framesPerStream; i++)
            {
                // Half of each stream's frames go before the reload, half after it.
                if (i == framesPerStream / 2)
                {
                    await loaded.Task;
                }

                await call.RequestStream.WriteAsync(Infer("tiny", $"s{s}-f{i}"));
                Interlocked.Increment(ref sent);
                await Task.Delay(5);
            }

            await call.RequestStream.CompleteAsync();
            return await reader;
        }

        var running = Enumerable.Range(0, streams).Select(RunStream).ToList();
        await Eventually.HoldsAsync(() => Volatile.Read(ref sent) >= streams * framesPerStream / 4);

        SyntheticModelFolder.Write(Path.Combine(_root, "tiny", "3"), Tiny(9));
        await _oip.RepositoryModelLoadAsync(new Inference.RepositoryModelLoadRequest { ModelName = "tiny" });
        loaded.SetResult();
        var responses = (await Task.WhenAll(running)).SelectMany(r => r).ToList();

        // Every frame has exactly one final response and no error; the frames sent after the load ran on version 3.
        Assert.All(responses, r => Assert.Equal("", r.ErrorMessage));
        var finals = responses.Where(r => r.InferResponse.Parameters["triton_final_response"].BoolParam).ToList();
        Assert.Equal(streams * framesPerStream, finals.Count);
        Assert.Equal(streams * framesPerStream, finals.Select(r => r.InferResponse.Id).Distinct().Count());
        Assert.All(finals.Where(r => int.Parse(r.InferResponse.Id.Split("-f")[1], System.Globalization.CultureInfo.InvariantCulture) >= framesPerStream / 2), r => Assert.Equal("3", r.InferResponse.ModelVersion));
        Assert.Contains(finals, r => r.InferResponse.ModelVersion == "2");

        // Version 2 finished its frames and went.
        await Eventually.HoldsAsync(() => !_app.Services.GetRequiredService<ModelRegistry>().Index().Any(e => e.State == "UNLOADING"));
        Assert.Equal("3", (await _oip.ModelInferAsync(Infer("tiny", "after"))).ModelVersion);
    }

    [Fact]
    public async Task Load_AVersionThatDoesNotLoad_IsRefusedNamingTheField_AndTheServedOneKeepsServing()
    {
        var bad = Path.Combine(_root, "tiny", "5");
        SyntheticModelFolder.Write(bad, Tiny(10));
        var manifest = Path.Combine(bad, ModelManifest.FileName);
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("0.9,", "1.9,", StringComparison.Ordinal));

        var ex = await Assert.ThrowsAsync<RpcException>(async () => await _oip.RepositoryModelLoadAsync(new Inference.RepositoryModelLoadRequest { ModelName = "tiny" }));
        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Contains("Version 5 of model 'tiny' did not load", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("thresholds.presets.balanced", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("Version 2 keeps serving", ex.Status.Detail, StringComparison.Ordinal);

        Assert.Equal("2", (await _oip.ModelInferAsync(Infer("tiny", "still"))).ModelVersion);
        var entry = Assert.Single((await _oip.RepositoryIndexAsync(new Inference.RepositoryIndexRequest())).Models, m => m.Name == "tiny" && m.Version == "5");
        Assert.Equal("UNAVAILABLE", entry.State);
        Assert.Contains("thresholds.presets.balanced", entry.Reason, StringComparison.Ordinal);

        // An explicit older version loads.
        await _oip.RepositoryModelLoadAsync(new Inference.RepositoryModelLoadRequest { ModelName = "tiny", Parameters = { ["version"] = new Inference.ModelRepositoryParameter { StringParam = "1" } } });
        Assert.Equal("1", (await _oip.ModelInferAsync(Infer("tiny", "v1"))).ModelVersion);
    }

    [Fact]
    public async Task Unload_WhileANativeStreamRuns_ItsLaterFramesAreNotFound_TheStreamGoesOn_ALoadServesItAgain()
    {
        using var call = _native.ClassifyStream();
        await call.RequestStream.WriteAsync(new StreamRequest { Options = new StreamOptions { Model = "second" } });
        await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = "before", Image = Frames.Png(1) } });
        Assert.True(await call.ResponseStream.MoveNext());

        await _oip.RepositoryModelUnloadAsync(new Inference.RepositoryModelUnloadRequest { ModelName = "second" });
        var gone = await Assert.ThrowsAsync<RpcException>(() => _native.ClassifyAsync(new ClassifyRequest { Image = Frames.Png(0), Options = new StreamOptions { Model = "second" } }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);

        await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = "during", Image = Frames.Png(2) } });
        await _oip.RepositoryModelLoadAsync(new Inference.RepositoryModelLoadRequest { ModelName = "second" });
        await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = "after", Image = Frames.Png(3) } });
        await call.RequestStream.CompleteAsync();

        var finals = new List<Protocol.V1.ExitEvent>();
        do
        {
            if (call.ResponseStream.Current.Final)
            {
                finals.Add(call.ResponseStream.Current);
            }
        }
        while (await call.ResponseStream.MoveNext());

        Assert.Equal(["before", "during", "after"], finals.Select(e => e.FrameId));
        Assert.NotEqual(ExitKind.Error, finals[0].Kind);
        Assert.Equal((ExitKind.Error, "NotFound"), (finals[1].Kind, finals[1].ErrorCode));
        Assert.Contains("'second' is not served", finals[1].Error, StringComparison.Ordinal);
        Assert.NotEqual(ExitKind.Error, finals[2].Kind);
    }

    [Fact]
    public async Task Health_PerModelAndVersion_FollowsWhatIsServed()
    {
        var health = new Grpc.Health.V1.Health.HealthClient(_channel);
        async Task<Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus> Status(string service) =>
            (await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest { Service = service })).Status;

        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, await Status(""));
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, await Status("tiny"));
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, await Status("tiny/2"));
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.NotServing, await Status("tiny/1"));
        var unknown = await Assert.ThrowsAsync<RpcException>(() => Status("nope"));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);

        using var watch = health.Watch(new Grpc.Health.V1.HealthCheckRequest { Service = "second" });
        Assert.True(await watch.ResponseStream.MoveNext());
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, watch.ResponseStream.Current.Status);
        await _oip.RepositoryModelUnloadAsync(new Inference.RepositoryModelUnloadRequest { ModelName = "second" });
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.NotServing, await Status("second"));
        Assert.True(await watch.ResponseStream.MoveNext());
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.NotServing, watch.ResponseStream.Current.Status);
        await _oip.RepositoryModelLoadAsync(new Inference.RepositoryModelLoadRequest { ModelName = "second" });
    }

    [Fact]
    public async Task Repository_UnknownModel_AndAnotherRepository_AreNotFound()
    {
        var model = await Assert.ThrowsAsync<RpcException>(async () => await _oip.RepositoryModelLoadAsync(new Inference.RepositoryModelLoadRequest { ModelName = "nope" }));
        Assert.Equal(StatusCode.NotFound, model.StatusCode);
        var version = await Assert.ThrowsAsync<RpcException>(async () => await _oip.RepositoryModelLoadAsync(new Inference.RepositoryModelLoadRequest { ModelName = "tiny", Parameters = { ["version"] = new Inference.ModelRepositoryParameter { Int64Param = 9 } } }));
        Assert.Contains("has no version 9", version.Status.Detail, StringComparison.Ordinal);
        foreach (var bad in new[] { new Inference.ModelRepositoryParameter { Int64Param = 0 }, new Inference.ModelRepositoryParameter { StringParam = "+1" }, new Inference.ModelRepositoryParameter { StringParam = "one" }, new Inference.ModelRepositoryParameter { BoolParam = true } })
        {
            var invalid = await Assert.ThrowsAsync<RpcException>(async () => await _oip.RepositoryModelLoadAsync(new Inference.RepositoryModelLoadRequest { ModelName = "tiny", Parameters = { ["version"] = bad } }));
            Assert.Equal((StatusCode.InvalidArgument, "Parameter 'version' must be a positive integer (a version folder's name)."), (invalid.StatusCode, invalid.Status.Detail));
        }

        var repository = await Assert.ThrowsAsync<RpcException>(async () => await _oip.RepositoryIndexAsync(new Inference.RepositoryIndexRequest { RepositoryName = "elsewhere" }));
        Assert.Equal(StatusCode.NotFound, repository.StatusCode);
    }

    private static Inference.ModelInferRequest Infer(string model, string id) => new()
    {
        ModelName = model,
        Id = id,
        Inputs = { new Inference.ModelInferRequest.Types.InferInputTensor { Name = "IMAGE", Datatype = "BYTES", Shape = { 1 }, Contents = new() { BytesContents = { ByteString.CopyFrom(ImageEncoding.EncodePng(CifarSlice.Hwc(id.Length % CifarSlice.Count), 32, 32)) } } } },
    };
}

/// <summary>Polling of the model root (DfbNet:ModelPollSeconds).</summary>
public sealed class ModelPollingTests
{
    [Fact]
    public async Task Polling_ANewModelFolderIsServed_ANewVersionReplacesTheOld_ARemovedOneIsUnloaded()
    {
        await using var server = await TestServer.StartAsync("--DfbNet:ModelPollSeconds=0.2");
        var oip = new Inference.GRPCInferenceService.GRPCInferenceServiceClient(server.Channel);

        SyntheticModelFolder.Write(Path.Combine(server.ModelRoot, "third"), new SyntheticDfbNetOptions { InputSize = 16, Seed = 5, StageWidths = [4, 8], BranchWidth = 4 });
        await Eventually.HoldsAsync(() => server.Models.Names.Contains("third"));

        // A version folder next to today's unversioned files: the folder is now versioned, its version 2 is served.
        var tiny = Path.Combine(server.ModelRoot, "tiny");
        SyntheticModelFolder.Write(Path.Combine(tiny, "2"), new SyntheticDfbNetOptions { InputSize = 32, Seed = 11 });
        foreach (var file in Directory.EnumerateFiles(tiny))
        {
            File.Delete(file);
        }

        await Eventually.HoldsAsync(() => server.Models.VersionOf("tiny") == "2");
        Directory.Delete(Path.Combine(server.ModelRoot, "third"), recursive: true);
        await Eventually.HoldsAsync(() => !server.Models.Names.Contains("third"));
        var metadata = await oip.ModelMetadataAsync(new Inference.ModelMetadataRequest { Name = "tiny" });
        Assert.Equal(["2"], metadata.Versions);
    }
}
