using System.Diagnostics;
using DfbNet.Protocol.V1;
using Grpc.Core;

namespace DfbNet.Client.Tests;

public sealed class StreamTests : IAsyncLifetime
{
    private LoopbackServer _server = null!;

    public async Task InitializeAsync() => _server = await LoopbackServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Stream_EventsAreCorrelatedToTheirFramesAndEachFrameEndsOnce()
    {
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = _server.Address, ApiKey = "abc" });
        var events = new List<StreamEvent>();
        await foreach (var e in client.StreamAsync(Images.Frames(30)))
        {
            events.Add(e);
        }

        var byFrame = events.GroupBy(e => e.Frame.Id!).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(30, byFrame.Count);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"f{i}"), byFrame.Keys);
        foreach (var (id, list) in byFrame)
        {
            Assert.All(list, e => Assert.Equal(id, e.Event.FrameId));
            Assert.Single(list, e => e.IsFinal);
            Assert.True(list[^1].IsFinal);
            Assert.All(list, e => Assert.False(e.Resent));
            Assert.All(list, e => Assert.True(e.RoundTrip > TimeSpan.Zero && e.RoundTrip >= e.Event.ServerTime));
        }

        Assert.Equal("Bearer abc", Assert.Single(_server.Calls.All).Headers.GetValue("authorization"));
    }

    [Fact]
    public async Task Stream_FramesWithoutIds_AreNumberedAndBadFramesEndWithError()
    {
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = _server.Address });
        var frames = new[]
        {
            new InputFrame(null, Images.Raw(0)),
            new InputFrame(null, ImageInput.FromEncoded([1, 2, 3, 4])),
            new InputFrame("", Images.Png(2), Budget: TimeSpan.FromMinutes(1)),
        };

        var finals = new List<StreamEvent>();
        await foreach (var e in client.StreamAsync(frames.ToAsyncEnumerable()))
        {
            if (e.IsFinal)
            {
                finals.Add(e);
            }
        }

        Assert.Equal(["0", "1", "2"], finals.Select(e => e.Event.FrameId));
        Assert.Equal(FrameEventKind.Error, finals[1].Event.Kind);
        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, finals[1].Event.ErrorCode);
        Assert.NotEqual(FrameEventKind.Error, finals[2].Event.Kind);
        Assert.Same(frames[1].Image, finals[1].Frame.Image);
    }

    [Fact]
    public async Task Stream_Cancelled_StopsPromptlyWithOperationCanceled()
    {
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = _server.Address });
        using var cts = new CancellationTokenSource();
        var seen = 0;
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var e in client.StreamAsync(Images.Frames(100_000), cancellationToken: cts.Token))
            {
                if (++seen == 10)
                {
                    await cts.CancelAsync();
                }
            }
        });
        Assert.True(seen < 200, $"{seen} events after cancelling");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), clock.Elapsed.ToString());
    }

    [Fact]
    public async Task Stream_Deadline_EndsWithDeadlineExceeded()
    {
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = _server.Address, Timeout = TimeSpan.FromSeconds(2) });
        var seen = 0;
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var e in client.StreamAsync(Images.Frames(100_000, TimeSpan.FromMilliseconds(20))))
            {
                seen++;
            }
        });
        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        Assert.True(seen > 0);
    }

    [Fact]
    public async Task Stream_DuplicateIdInFlight_FailsWithArgumentException()
    {
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = _server.Address });
        var frames = new[] { new InputFrame("same", Images.Raw(0)), new InputFrame("same", Images.Raw(1)) };
        var ex = await Assert.ThrowsAsync<ArgumentException>(async () =>
        {
            await foreach (var e in client.StreamAsync(frames.ToAsyncEnumerable()))
            {
            }
        });
        Assert.Contains("same", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_SourceThrows_TheStreamEndsWithTheSourceError()
    {
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = _server.Address });
        var ex = await Assert.ThrowsAsync<InvalidDataException>(async () =>
        {
            await foreach (var e in client.StreamAsync(Failing()))
            {
            }
        });
        Assert.Equal("camera unplugged", ex.Message);

        static async IAsyncEnumerable<InputFrame> Failing()
        {
            yield return new InputFrame("a", Images.Raw(0));
            await Task.Delay(50);
            throw new InvalidDataException("camera unplugged");
        }
    }

    [Fact]
    public async Task Stream_LatestPolicy_ForLiveCameras_DropsStaleFrames_EachFrameStillEndsOnce()
    {
        await using var server = await LoopbackServer.StartAsync("--DfbNet:StreamQueueCapacity=1", "--DfbNet:MaxFramesInFlightPerStream=1");
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = server.Address, MaxFramesInFlight = 16, QueuePolicy = QueuePolicy.Latest });
        var finals = new List<FrameEvent>();
        await foreach (var e in client.StreamAsync(Images.Frames(40), new RequestOptions { Mode = InferenceMode.Full }))
        {
            if (e.IsFinal)
            {
                finals.Add(e.Event);
            }
        }

        Assert.Equal(40, finals.Count);
        Assert.Equal(40, finals.Select(f => f.FrameId).Distinct().Count());
        Assert.Contains(finals, f => f.Kind == FrameEventKind.Dropped);
        Assert.Contains(finals, f => f.Kind == FrameEventKind.Fused);
    }

    [Fact]
    public async Task SdkTypes_MirrorTheWireEvents_ForStreamsAndClassify()
    {
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = _server.Address, TopK = 3 });
        var result = await client.ClassifyAsync(Images.Png(1), new RequestOptions { Mode = InferenceMode.Full });
        Assert.Equal("tiny", result.Model);
        Assert.Same(result.Events[^1], result.Answer);
        Assert.Equal(FrameEventKind.Fused, result.Answer.Kind);
        Assert.True(result.Answer.IsFinal);
        Assert.Equal(3, result.Answer.Prediction!.TopK.Count);
        Assert.Equal(result.Answer.Prediction.ClassName, result.Answer.Prediction.TopK[0].ClassName);
        Assert.True(result.Answer.ServerTime > TimeSpan.Zero);
        Assert.Equal(result.Wire.Events.Count, result.Events.Count);
        Assert.Equal(result.Wire.Answer.Prediction.ClassIndex, result.Answer.Prediction.ClassIndex);

        await foreach (var e in client.StreamAsync(Images.Frames(3)))
        {
            Assert.Equal(e.Wire.FrameId, e.Event.FrameId);
            Assert.Equal(e.Wire.Exit, e.Event.Exit);
            Assert.Equal(e.Wire.Final, e.Event.IsFinal);
            Assert.Equal(e.Wire.Prediction?.ClassIndex, e.Event.Prediction?.ClassIndex);
            Assert.Null(e.Event.ErrorCode);
            Assert.Same(e.Event, e.Event);
        }
    }
}
