using System.Diagnostics;
using DfbNet.Protocol.V1;
using DfbNet.Testing;
using Grpc.Core;

namespace DfbNet.Client.Tests;

public sealed class ResilienceTests
{
    [Fact]
    public async Task Stream_AcrossTheServersStreamLifetime_ReconnectsAndEveryFrameEndsOnce()
    {
        // Each stream lives at most 0.5 s: a 3 s stream at 40 frames a second is moved about six times.
        await using var server = await LoopbackServer.StartAsync("--DfbNet:MaxStreamSeconds=0.5");
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = server.Address, MaxStreamReconnects = 3 });
        var finals = new Dictionary<string, int>();
        await foreach (var e in client.StreamAsync(Images.Frames(120, TimeSpan.FromMilliseconds(25))))
        {
            if (e.IsFinal)
            {
                finals[e.Event.FrameId] = finals.GetValueOrDefault(e.Event.FrameId) + 1;
            }
        }

        Assert.Equal(120, finals.Count);
        Assert.All(finals.Values, count => Assert.Equal(1, count));
        Assert.InRange(server.Calls.Count("ClassifyStream"), 4, 12);
    }

    [Fact]
    public async Task Classify_ServerNotUpYet_RetriesUntilItIs()
    {
        await using var server = await LoopbackServer.StartAsync();
        await server.StopAsync();
        using var client = new DfbNetClient(new DfbNetClientOptions
        {
            Address = server.Address,
            MaxRetries = 8,
            RetryDelay = TimeSpan.FromMilliseconds(200),
            MaxRetryDelay = TimeSpan.FromMilliseconds(400),
        });

        var classify = client.ClassifyAsync(Images.Raw(1));
        await Task.Delay(300);
        Assert.False(classify.IsCompleted);
        await server.RestartAsync();

        var response = await classify;
        Assert.True(response.Answer.IsFinal);
        Assert.Equal(1, server.Calls.Count("Classify"));
    }

    [Fact]
    public async Task Classify_Unreachable_StopsRetryingBeforeTheDeadline()
    {
        using var client = new DfbNetClient(new DfbNetClientOptions
        {
            Address = new Uri($"http://127.0.0.1:{LoopbackPort.Free()}"),
            MaxRetries = 50,
            RetryDelay = TimeSpan.FromMilliseconds(100),
            MaxRetryDelay = TimeSpan.FromMilliseconds(300),
            Timeout = TimeSpan.FromMilliseconds(800),
        });

        var clock = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.ClassifyAsync(Images.Raw(0)));
        clock.Stop();

        // Several attempts fit in 800 ms, fifty do not: the retries end at the deadline, not after it.
        Assert.Contains(ex.StatusCode, new[] { StatusCode.Unavailable, StatusCode.DeadlineExceeded });
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(2500));
    }

    [Fact]
    public async Task Classify_NoRetries_FailsAtOnceWhenUnreachable()
    {
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = new Uri($"http://127.0.0.1:{LoopbackPort.Free()}"), MaxRetries = 0 });
        var clock = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.ClassifyAsync(Images.Raw(0)));
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), clock.Elapsed.ToString());
    }

    [Fact]
    public async Task Stream_ServerRestartsMidStream_ResendsUnansweredFramesAndEachFrameEndsOnce()
    {
        await using var server = await LoopbackServer.StartAsync();
        using var client = new DfbNetClient(new DfbNetClientOptions
        {
            Address = server.Address,

            // About 9 s of reconnects: a restart (model loading and warm-up included) takes far less, but the whole test
            // run shares two cores and once outlasted the 2.7 s that 10 allowed.
            MaxStreamReconnects = 30,
            RetryDelay = TimeSpan.FromMilliseconds(100),
            MaxRetryDelay = TimeSpan.FromMilliseconds(300),
            MaxFramesInFlight = 4,
        });

        const int count = 40;
        var events = new List<StreamEvent>();
        Task? restart = null;
        await foreach (var e in client.StreamAsync(Images.LargeFrames(count), new RequestOptions { Mode = InferenceMode.Full }))
        {
            events.Add(e);
            if (restart is null && events.Count(x => x.IsFinal) == 10)
            {
                // Mid-stream, with frames in flight: the server dies, and comes back on the same port a little later.
                await server.StopAsync();
                restart = Task.Run(async () =>
                {
                    await Task.Delay(300);
                    await server.RestartAsync();
                });
            }
        }

        Assert.NotNull(restart);
        await restart;
        var finals = events.Where(e => e.IsFinal).ToList();
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"f{i}").Order(), finals.Select(e => e.Event.FrameId).Order());
        Assert.All(events, e => Assert.Equal(e.Frame.Id, e.Event.FrameId));
        Assert.All(finals, e => Assert.Equal(FrameEventKind.Fused, e.Event.Kind));
        foreach (var frame in events.GroupBy(e => e.Event.FrameId))
        {
            // Each answer (the original or the resend's) runs exits 1, 2, 3 and fusion in order.
            var fresh = frame.Where(e => e.Resent == frame.Last().Resent).Select(e => e.Event.Exit);
            Assert.Equal([1, 2, 3, 0], fresh);
        }

        // A second call was made after the restart, and it resent frames that were in flight at the break.
        Assert.True(server.Calls.Count("ClassifyStream") >= 2);
        Assert.Contains(finals, e => e.Resent);
        Assert.All(finals.Take(10), e => Assert.False(e.Resent));
    }

    [Fact]
    public async Task Stream_ServerGone_FailsAfterBoundedReconnects()
    {
        await using var server = await LoopbackServer.StartAsync();
        using var client = new DfbNetClient(new DfbNetClientOptions
        {
            Address = server.Address,
            MaxStreamReconnects = 2,
            RetryDelay = TimeSpan.FromMilliseconds(50),
            MaxRetryDelay = TimeSpan.FromMilliseconds(100),
        });

        var seen = 0;
        var clock = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var e in client.StreamAsync(Images.Frames(1000, TimeSpan.FromMilliseconds(5))))
            {
                if (++seen == 5)
                {
                    await server.StopAsync();
                }
            }
        });
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), clock.Elapsed.ToString());
    }
}
