using System.Diagnostics;
using DfbNet.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace DfbNet.Server.Tests;

public sealed class StreamTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Stream_100Frames_EventsArriveInExitOrderTaggedAndEachFrameEndsOnce()
    {
        using var call = _server.Client.ClassifyStream();
        var reading = ReadAll(call.ResponseStream);
        await call.RequestStream.WriteAsync(new StreamRequest { Options = new StreamOptions { Mode = InferenceMode.FirstExit, Thresholds = new ThresholdSelection { Preset = "balanced" } } });
        for (var i = 0; i < 100; i++)
        {
            await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"frame-{i}", Image = i % 2 == 0 ? Frames.Jpeg(i) : Frames.Raw(i) } });
        }

        await call.RequestStream.CompleteAsync();
        var events = await reading;

        var byFrame = events.GroupBy(e => e.FrameId).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(100, byFrame.Count);

        // With one frame in flight per stream, frames come back in the order sent.
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"frame-{i}"), events.Select(e => e.FrameId).Distinct());
        foreach (var (id, list) in byFrame)
        {
            Assert.Single(list, e => e.Final);
            Assert.True(list[^1].Final, id);
            var exits = list.Where(e => e.Exit > 0).Select(e => e.Exit).ToList();
            Assert.Equal(Enumerable.Range(1, exits.Count), exits);
            Assert.All(list.SkipLast(1), e => Assert.Equal(ExitKind.BelowThreshold, e.Kind));
            Assert.Contains(list[^1].Kind, new[] { ExitKind.EarlyExit, ExitKind.Fused });
            var times = list.Select(e => e.ServerTime.ToTimeSpan()).ToList();
            Assert.Equal(times.Order(), times);
        }

        // Frames that reach exit 3 show server times that grow with the exit index.
        var deep = byFrame.Values.Where(l => l.Any(e => e.Exit == 3)).ToList();
        Assert.NotEmpty(deep);
        Assert.All(deep, l => Assert.True(l.First(e => e.Exit == 1).ServerTime.ToTimeSpan() < l.First(e => e.Exit == 3).ServerTime.ToTimeSpan()));
    }

    [Fact]
    public async Task Stream_ContinuesAfterCorruptFrame()
    {
        using var call = _server.Client.ClassifyStream();
        var reading = ReadAll(call.ResponseStream);
        for (var i = 0; i < 10; i++)
        {
            var image = i == 5 ? Frames.CorruptJpeg(i) : Frames.Png(i);
            await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { Image = image } });
        }

        await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame() });
        await call.RequestStream.CompleteAsync();
        var events = await reading;

        // Frames without ids are numbered by the server in arrival order.
        Assert.Equal(Enumerable.Range(0, 11).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), events.Select(e => e.FrameId).Distinct());
        var corrupt = Assert.Single(events, e => e.FrameId == "5");
        Assert.Equal(ExitKind.Error, corrupt.Kind);
        Assert.True(corrupt.Final);
        Assert.Equal("InvalidArgument", corrupt.ErrorCode);
        Assert.False(string.IsNullOrEmpty(corrupt.Error));
        var missing = Assert.Single(events, e => e.FrameId == "10");
        Assert.Equal(ExitKind.Error, missing.Kind);
        Assert.Contains("frame.image", missing.Error, StringComparison.Ordinal);
        Assert.Equal(11, events.Count(e => e.Final));
        Assert.All(events.Where(e => e.FrameId is "6" or "9" && e.Final), e => Assert.NotEqual(ExitKind.Error, e.Kind));
    }

    [Fact]
    public async Task Stream_OptionsFromMetadata_RefineModeEmitsRefinementsAndFusion()
    {
        var headers = new Metadata { { "dfbnet-mode", "refine" }, { "dfbnet-preset", "fast" } };
        using var call = _server.Client.ClassifyStream(headers);
        var reading = ReadAll(call.ResponseStream);
        for (var i = 0; i < 5; i++)
        {
            await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"{i}", Image = Frames.Raw(i) } });
        }

        await call.RequestStream.CompleteAsync();
        var events = await reading;
        foreach (var frame in events.GroupBy(e => e.FrameId))
        {
            var list = frame.ToList();
            Assert.Equal([1, 2, 3, 0], list.Select(e => e.Exit));
            Assert.Equal(ExitKind.Fused, list[^1].Kind);
            Assert.Single(list, e => e.Kind == ExitKind.EarlyExit);
        }
    }

    [Fact]
    public async Task Stream_TinyBudget_EndsAtOnceWithAPredictionlessCut()
    {
        var events = await RunTightBudget(alwaysAnswer: false);
        var tight = Assert.Single(events, e => e.FrameId == "tight");
        Assert.Equal(ExitKind.BudgetCut, tight.Kind);
        Assert.Equal(0, tight.ExitsComputed);
        Assert.Null(tight.Prediction);
        Assert.True(tight.Final);
    }

    [Fact]
    public async Task Stream_TinyBudget_WithAlwaysAnswer_CutsAfterFirstExitWithFusionSoFar()
    {
        var events = await RunTightBudget(alwaysAnswer: true);
        var tight = events.Where(e => e.FrameId == "tight").ToList();
        Assert.Equal([ExitKind.BelowThreshold, ExitKind.BudgetCut], tight.Select(e => e.Kind));
        Assert.Equal(1, tight[^1].ExitsComputed);
        Assert.Equal(tight[0].Prediction.ClassIndex, tight[^1].Prediction.ClassIndex);
        Assert.True(tight[^1].Final);
    }

    private async Task<List<Protocol.V1.ExitEvent>> RunTightBudget(bool alwaysAnswer)
    {
        using var call = _server.Client.ClassifyStream();
        var reading = ReadAll(call.ResponseStream);
        await call.RequestStream.WriteAsync(new StreamRequest
        {
            Options = new StreamOptions
            {
                Mode = InferenceMode.FirstExit,
                Thresholds = new ThresholdSelection { Explicit = new Thresholds { Values = { 1f, 1f, 1f } } },
                Budget = Duration.FromTimeSpan(TimeSpan.FromMinutes(1)),
                AlwaysAnswer = alwaysAnswer,
            },
        });
        await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = "roomy", Image = Frames.Raw(0) } });
        await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = "tight", Image = Frames.Raw(1), Budget = Duration.FromTimeSpan(TimeSpan.FromTicks(10)) } });
        await call.RequestStream.CompleteAsync();
        var events = await reading;
        Assert.Equal([ExitKind.BelowThreshold, ExitKind.BelowThreshold, ExitKind.BelowThreshold, ExitKind.Fused], events.Where(e => e.FrameId == "roomy").Select(e => e.Kind));
        return events;
    }

    [Fact]
    public async Task Stream_OutOfRangeBudgets_AreAnsweredWithInvalidArgument_AndTheStreamGoesOn()
    {
        using var call = _server.Client.ClassifyStream();
        var reading = ReadAll(call.ResponseStream);
        Duration[] bad =
        [
            new() { Seconds = 10_000_000_000_000 },
            new() { Seconds = 1, Nanos = 2_000_000_000 },
            new() { Seconds = -1 },
            new() { Seconds = 3601 },
        ];
        for (var i = 0; i < 6; i++)
        {
            var frame = new Frame { FrameId = $"f{i}", Image = Frames.Raw(i) };
            if (i < bad.Length)
            {
                frame.Budget = bad[i];
            }

            await call.RequestStream.WriteAsync(new StreamRequest { Frame = frame });
        }

        await call.RequestStream.CompleteAsync();
        var finals = (await reading).Where(e => e.Final).ToList();
        Assert.Equal(6, finals.Count);
        Assert.All(finals.Take(4), e => Assert.Equal((ExitKind.Error, "InvalidArgument"), (e.Kind, e.ErrorCode)));
        Assert.Contains("frame.budget", finals[0].Error, StringComparison.Ordinal);
        Assert.All(finals.Skip(4), e => Assert.NotEqual(ExitKind.Error, e.Kind));
    }

    [Fact]
    public async Task Stream_MessageOverTheSizeLimit_EndsWithResourceExhausted_AfterEveryEarlierFrameIsAnswered()
    {
        await using var server = await TestServer.StartAsync("--DfbNet:MaxMessageBytes=65536", "--DfbNet:MaxFramesInFlightPerStream=4");
        using var call = server.Client.ClassifyStream(new Metadata { { "dfbnet-mode", "full" } });
        for (var i = 0; i < 20; i++)
        {
            await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"f{i}", Image = Frames.Raw(i) } });
        }

        var huge = new Image { Encoded = Google.Protobuf.ByteString.CopyFrom(new byte[100_000]) };
        try
        {
            await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = "huge", Image = huge } });
        }
        catch (RpcException)
        {
            // The server may end the call before the whole message is written: the status comes with the responses.
        }

        var finals = new List<string>();
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var e in call.ResponseStream.ReadAllAsync())
            {
                if (e.Final)
                {
                    finals.Add(e.FrameId);
                }
            }
        });

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"f{i}"), finals.Order(StringComparer.Ordinal).OrderBy(f => int.Parse(f[1..], System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task Stream_OutOfRangeStreamBudget_FailsTheCallWithInvalidArgument()
    {
        using var call = _server.Client.ClassifyStream();
        await call.RequestStream.WriteAsync(new StreamRequest { Options = new StreamOptions { Budget = new Duration { Seconds = 10_000_000_000_000 } } });
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);

        using var header = _server.Client.ClassifyStream(new Metadata { { "dfbnet-budget-ms", "1e300" } });
        await header.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { Image = Frames.Raw(0) } });
        ex = await Assert.ThrowsAsync<RpcException>(async () => await header.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("dfbnet-budget-ms", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_UnknownModelInOptions_FailsTheStreamWithNotFound()
    {
        using var call = _server.Client.ClassifyStream();
        await call.RequestStream.WriteAsync(new StreamRequest { Options = new StreamOptions { Model = "missing" } });
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
    }

    [Fact]
    public async Task Stream_ClientCancellation_StopsServerWorkForTheStream()
    {
        var engine = _server.Models.TryGet(null, out var e) ? e : throw new InvalidOperationException();
        var completedBefore = engine.FramesCompleted;
        using var cts = new CancellationTokenSource();
        using var call = _server.Client.ClassifyStream(cancellationToken: cts.Token);

        // A producer that would send 5000 full-mode frames; the client cancels after a few events.
        var producer = Task.Run(async () =>
        {
            try
            {
                await call.RequestStream.WriteAsync(new StreamRequest { Options = new StreamOptions { Mode = InferenceMode.Full } });
                for (var i = 0; i < 5000; i++)
                {
                    await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { Image = Frames.Raw(i) } });
                }
            }
            catch (RpcException)
            {
                // Cancelled mid-write.
            }
            catch (OperationCanceledException)
            {
            }
        });

        var received = 0;
        await foreach (var _ in call.ResponseStream.ReadAllAsync(CancellationToken.None).WithCancellation(CancellationToken.None))
        {
            if (++received == 20)
            {
                await cts.CancelAsync();
                break;
            }
        }

        await producer;

        // The server notices (RST_STREAM arrives asynchronously), terminates the stage in flight and stops taking
        // frames from the queue: the completed count settles and stays put.
        var watch = Stopwatch.StartNew();
        var last = engine.FramesCompleted;
        var stableSince = watch.Elapsed;
        while (watch.Elapsed - stableSince < TimeSpan.FromMilliseconds(250) && watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(10);
            var now = engine.FramesCompleted;
            if (now != last || engine.InFlightFrames > 0)
            {
                last = now;
                stableSince = watch.Elapsed;
            }
        }

        Assert.Equal(0, engine.InFlightFrames);
        var completedAtStop = engine.FramesCompleted;
        await Task.Delay(300);
        Assert.Equal(completedAtStop, engine.FramesCompleted);
        Assert.True(completedAtStop - completedBefore < 5000, $"{completedAtStop - completedBefore} frames completed");
    }

    private static async Task<List<ExitEvent>> ReadAll(IAsyncStreamReader<ExitEvent> stream)
    {
        var list = new List<ExitEvent>();
        await foreach (var e in stream.ReadAllAsync())
        {
            list.Add(e);
        }

        return list;
    }
}
