using DfbNet.Protocol.V1;
using DfbNet.Runtime.Tests;
using Grpc.Core;

namespace DfbNet.Client.Tests;

public sealed class ClassifyTests : IAsyncLifetime
{
    private LoopbackServer _server = null!;

    public async Task InitializeAsync() => _server = await LoopbackServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Classify_RawPngAndFile_SameAnswerWithEveryExitEvent()
    {
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = _server.Address });
        var file = Path.Combine(Path.GetTempPath(), $"dfbnet-{Guid.NewGuid():N}.png");
        await File.WriteAllBytesAsync(file, ImageEncoding.EncodePng(CifarSlice.Hwc(3), 32, 32));
        try
        {
            var raw = await client.ClassifyAsync(Images.Raw(3));
            var png = await client.ClassifyAsync(Images.Png(3));
            var fromFile = await client.ClassifyAsync(await ImageInput.FromFileAsync(file));

            Assert.Equal("tiny", raw.Model);
            Assert.True(raw.Answer.IsFinal);
            Assert.Equal(raw.Answer, raw.Events[^1]);
            Assert.Single(raw.Events, e => e.IsFinal);
            Assert.Contains(raw.Answer.Kind, new[] { FrameEventKind.EarlyExit, FrameEventKind.Fused });
            var exits = raw.Events.Where(e => e.Exit > 0).Select(e => e.Exit);
            Assert.Equal(Enumerable.Range(1, exits.Count()), exits);

            // PNG is lossless: the same pixels give the same probabilities.
            foreach (var other in new[] { png, fromFile })
            {
                Assert.Equal(raw.Events.Select(e => (e.Exit, e.Kind, e.Prediction!.ClassIndex)), other.Events.Select(e => (e.Exit, e.Kind, e.Prediction!.ClassIndex)));
                Assert.Equal(raw.Answer.Prediction!.Confidence, other.Answer.Prediction!.Confidence, 5);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Classify_ClientDefaultsAndApiKey_ReachTheServer()
    {
        using var client = new DfbNetClient(new DfbNetClientOptions
        {
            Address = _server.Address,
            ApiKey = "s3cret",
            Mode = InferenceMode.Refine,
            Preset = "fast",
            TopK = 3,
        });

        var response = await client.ClassifyAsync(Images.Raw(0));

        // Refine mode with the "fast" preset runs every exit and ends with fusion.
        Assert.Equal([1, 2, 3, 0], response.Events.Select(e => e.Exit));
        Assert.Equal(FrameEventKind.Fused, response.Answer.Kind);
        Assert.Single(response.Events, e => e.Kind == FrameEventKind.EarlyExit);
        Assert.All(response.Events, e => Assert.Equal(3, e.Prediction!.TopK.Count));
        var call = Assert.Single(_server.Calls.All, c => c.Method.EndsWith("/Classify", StringComparison.Ordinal));
        Assert.Equal("Bearer s3cret", call.Headers.GetValue("authorization"));

        using var xApiKey = new DfbNetClient(new DfbNetClientOptions { Address = _server.Address, ApiKey = "k2", ApiKeyHeader = ApiKeyHeader.XApiKey });
        var overridden = await xApiKey.ClassifyAsync(Images.Raw(0), new RequestOptions { Mode = InferenceMode.Full, Thresholds = [1f, 1f, 1f] });
        Assert.Equal([1, 2, 3, 0], overridden.Events.Select(e => e.Exit));
        Assert.DoesNotContain(overridden.Events, e => e.Kind == FrameEventKind.EarlyExit);
        Assert.Equal("k2", _server.Calls.All[^1].Headers.GetValue("x-api-key"));
        Assert.Null(_server.Calls.All[^1].Headers.GetValue("authorization"));
    }

    [Fact]
    public async Task Classify_CorruptImage_IsInvalidArgumentAndNotRetried()
    {
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = _server.Address });
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.ClassifyAsync(ImageInput.FromEncoded([0x89, 0x50, 0x4e, 0x47, 1, 2, 3])));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal(1, _server.Calls.Count("Classify"));
    }

    [Fact]
    public async Task Classify_UnknownModel_IsNotFound()
    {
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = _server.Address, Model = "nope" });
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.ClassifyAsync(Images.Raw(0)));
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Contains("tiny", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetModelInfo_DescribesTheDefaultModel()
    {
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = _server.Address });
        var info = await client.GetModelInfoAsync();
        Assert.Equal("tiny", info.Name);
        Assert.Equal(3, info.Exits.Count);
        Assert.Equal(10, info.Classes.Count);
        Assert.True(info.Untrained);
    }

    [Fact]
    public async Task Classify_Cancelled_ThrowsOperationCanceled()
    {
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = _server.Address });
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ClassifyAsync(Images.Raw(0), cancellationToken: cts.Token));
    }

    [Fact]
    public async Task Classify_DeadlineTooShort_IsDeadlineExceeded()
    {
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = _server.Address });
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.ClassifyAsync(Images.Raw(0), new RequestOptions { Timeout = TimeSpan.FromTicks(1) }));
        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
    }

    [Fact]
    public void Options_Invalid_AreRejectedWithTheirName()
    {
        var ex = Assert.Throws<ArgumentException>(() => new DfbNetClient(new DfbNetClientOptions { Address = new Uri("ftp://x"), MaxRetries = -1 }));
        Assert.Contains("Address", ex.Message, StringComparison.Ordinal);
        Assert.Contains("MaxRetries", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ImageInput_ChecksRawLengthAndMissingFiles()
    {
        var ex = Assert.Throws<ArgumentException>(() => ImageInput.FromRgb(new byte[10], 2, 2));
        Assert.Contains("12", ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<FileNotFoundException>(() => ImageInput.FromFileAsync(Path.Combine(Path.GetTempPath(), "dfbnet-missing.png")));
        Assert.Equal(3072, Images.Raw(0).Length);
    }
}
