using DfbNet.Protocol.V1;
using Grpc.Core;

namespace DfbNet.Server.Tests;

/// <summary>Several frames of one stream in flight: events of different frames interleave, each frame's stay in order.</summary>
public sealed class ConcurrentStreamTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync("--DfbNet:MaxFramesInFlightPerStream=4");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Stream_WithFramesInFlight_KeepsEachFramesEventsInExitOrder()
    {
        using var call = _server.Client.ClassifyStream(new Metadata { { "dfbnet-mode", "full" } });
        var reading = Task.Run(async () =>
        {
            var list = new List<ExitEvent>();
            await foreach (var e in call.ResponseStream.ReadAllAsync())
            {
                list.Add(e);
            }

            return list;
        });
        for (var i = 0; i < 60; i++)
        {
            await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"f{i}", Image = Frames.Raw(i) } });
        }

        await call.RequestStream.CompleteAsync();
        var events = await reading;

        Assert.Equal(60 * 4, events.Count);
        foreach (var frame in events.GroupBy(e => e.FrameId))
        {
            Assert.Equal([1, 2, 3, 0], frame.Select(e => e.Exit));
            Assert.Equal([false, false, false, true], frame.Select(e => e.Final));
        }
    }
}
