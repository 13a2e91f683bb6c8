using System.Buffers.Binary;
using System.Diagnostics;
using DfbNet.Protocol.V1;
using DfbNet.Runtime.Scheduling;
using DfbNet.Runtime.Tests;
using DfbNet.Testing;
using Google.Protobuf;
using Grpc.Core;
using Inference = DfbNet.Protocol.Inference;

namespace DfbNet.Server.Tests;

/// <summary>
/// Admission, queue policies, fairness and concurrency on a real server. A long maximum queue delay holds a frame that
/// has no budget in a partial batch (up to that delay), which makes the server's queues fill deterministically.
/// </summary>
public sealed class SchedulingTests
{
    [Fact]
    public async Task Saturated_RefusesAtOnce_TheStreamOverItsShare_ThenPastTheReserve_EveryoneUnavailable()
    {
        // A bound of 2: streams are held to their share from 1 admitted frame on, and 1 more frame (the reserve) is for
        // a stream that holds none.
        await using var server = await TestServer.StartAsync(
            "--DfbNet:MaxAdmittedFrames=2", "--DfbNet:MaxQueueDelayMicroseconds=1000000", "--DfbNet:Executors=1");

        // What follows must happen within the held batch's second: a stream and a unary call first, so that their
        // one-off costs (JIT, the connection) are not paid inside it on a busy machine.
        using (var warm = server.Client.ClassifyStream())
        {
            await warm.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = "w0", Image = Frames.Raw(7) } });
            await warm.RequestStream.CompleteAsync();
            Assert.Single(await ReadAll(warm.ResponseStream), e => e.Final);
        }

        await server.Client.ClassifyAsync(new ClassifyRequest { Image = Frames.Raw(6) });
        var engine = server.Models.GetOrThrow("tiny");
        await Eventually.HoldsAsync(() => engine.Admission.Admitted == 0);

        // Stream A: frame 0 waits in a held batch, frame 1 waits behind it in A's queue: the model's bound is reached.
        using var greedy = server.Client.ClassifyStream();
        var greedyEvents = ReadAll(greedy.ResponseStream);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 5; i++)
        {
            await greedy.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"a{i}", Image = Frames.Raw(i) } });
        }

        await Eventually.HoldsAsync(() => engine.Admission.Admitted == 2);

        // Stream B holds nothing: admitted in the reserve, although the flood keeps the model at its bound.
        using var quiet = server.Client.ClassifyStream();
        var quietEvents = ReadAll(quiet.ResponseStream);
        await quiet.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = "b0", Image = Frames.Raw(9) } });
        await Eventually.HoldsAsync(() => engine.Admission.Admitted == 3);

        // Stream C, past the reserve: refused as the server being saturated; the stream goes on.
        using var third = server.Client.ClassifyStream();
        await third.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = "c0", Image = Frames.Raw(8) } });
        Assert.True(await third.ResponseStream.MoveNext());
        var refused = third.ResponseStream.Current;
        Assert.Equal(("c0", ExitKind.Error, "Unavailable", true), (refused.FrameId, refused.Kind, refused.ErrorCode, refused.Final));
        Assert.Contains("MaxAdmittedFrames", refused.Error, StringComparison.Ordinal);

        // A unary call while saturated: UNAVAILABLE, at once.
        var unary = await Assert.ThrowsAsync<RpcException>(async () => await server.Client.ClassifyAsync(new ClassifyRequest { Image = Frames.Raw(3) }));
        Assert.Equal(StatusCode.Unavailable, unary.StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(900), "refusals must not wait for the held batch");

        await greedy.RequestStream.CompleteAsync();
        await quiet.RequestStream.CompleteAsync();
        await third.RequestStream.CompleteAsync();
        var events = await greedyEvents;
        Assert.False(await third.ResponseStream.MoveNext());

        // Every frame of A ended with exactly one final event: two answered, three refused as A's share was spent.
        var finals = events.Where(e => e.Final).ToList();
        Assert.Equal(["a0", "a1", "a2", "a3", "a4"], finals.Select(e => e.FrameId).Order());
        Assert.Equal(["a0", "a1"], finals.Where(e => e.Kind != ExitKind.Error).Select(e => e.FrameId).Order());
        Assert.All(finals.Where(e => e.Kind == ExitKind.Error), e => Assert.Equal("ResourceExhausted", e.ErrorCode));

        // B's frame was answered.
        var quietFinal = Assert.Single(await quietEvents, e => e.Final);
        Assert.Equal("b0", quietFinal.FrameId);
        Assert.NotEqual(ExitKind.Error, quietFinal.Kind);
        Assert.Equal(0, engine.Admission.Admitted);
    }

    [Fact]
    public async Task LatestPolicy_ReplacesTheOldestWaitingFrame_WhichEndsDropped()
    {
        await using var server = await TestServer.StartAsync(
            "--DfbNet:StreamQueueCapacity=2", "--DfbNet:MaxQueueDelayMicroseconds=1000000", "--DfbNet:Executors=1");
        using var call = server.Client.ClassifyStream();
        var reading = ReadAll(call.ResponseStream);
        await call.RequestStream.WriteAsync(new StreamRequest { Options = new StreamOptions { QueuePolicy = QueuePolicy.Latest } });
        for (var i = 0; i < 10; i++)
        {
            await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"f{i}", Image = Frames.Raw(i) } });
        }

        await call.RequestStream.CompleteAsync();
        var events = await reading;

        // f0 is held in a batch; the queue keeps the newest two; each frame that did not fit replaced the oldest waiting.
        var finals = events.Where(e => e.Final).ToList();
        Assert.Equal(10, finals.Count);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"f{i}"), finals.Select(e => e.FrameId).Order(StringComparer.Ordinal));
        Assert.Equal(["f0", "f8", "f9"], finals.Where(e => e.Kind != ExitKind.Dropped).Select(e => e.FrameId).Order(StringComparer.Ordinal));
        Assert.All(finals.Where(e => e.Kind == ExitKind.Dropped), e => Assert.Null(e.Prediction));
        Assert.DoesNotContain(events, e => e.Kind == ExitKind.Error);
    }

    [Fact]
    public async Task QuietStream_IsNotRefused_WhileAFloodKeepsTheModelAtItsBound()
    {
        await using var server = await TestServer.StartAsync("--DfbNet:Executors=1", "--DfbNet:MaxAdmittedFrames=4", "--DfbNet:StreamQueueCapacity=16");
        var engine = server.Models.GetOrThrow("tiny");
        using var flood = server.Client.ClassifyStream(new Metadata { { "dfbnet-mode", "full" } });
        var floodEvents = ReadAll(flood.ResponseStream);
        using var quietDone = new CancellationTokenSource();
        var sent = 0;
        var flooding = Task.Run(async () =>
        {
            while (!quietDone.IsCancellationRequested || sent < 200)
            {
                await flood.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"x{sent}", Image = Frames.Raw(sent) } });
                sent++;
            }

            await flood.RequestStream.CompleteAsync();
        });

        await Eventually.HoldsAsync(() => engine.Admission.Admitted >= 4);
        using var quiet = server.Client.ClassifyStream(new Metadata { { "dfbnet-mode", "full" } });
        var quietFinals = new List<ExitEvent>();
        for (var i = 0; i < 20; i++)
        {
            await quiet.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"q{i}", Image = Frames.Raw(i) } });
            while (await quiet.ResponseStream.MoveNext() && !quiet.ResponseStream.Current.Final)
            {
            }

            quietFinals.Add(quiet.ResponseStream.Current);
        }

        await quietDone.CancelAsync();
        await quiet.RequestStream.CompleteAsync();
        await flooding;
        var floodFinals = (await floodEvents).Where(e => e.Final).ToList();

        // The quiet stream holds at most one frame: never refused, although the flood keeps the model at its bound.
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"q{i}"), quietFinals.Select(e => e.FrameId));
        Assert.All(quietFinals, e => Assert.NotEqual(ExitKind.Error, e.Kind));

        // The flood is refused as over its share, and each of its frames ended once.
        Assert.Equal(sent, floodFinals.Count);
        Assert.Contains(floodFinals, e => e.ErrorCode == "ResourceExhausted");
        Assert.Equal(0, engine.Admission.Admitted);
    }

    [Fact]
    public async Task QuietStream_KeepsItsLatency_WhileAnotherFloods()
    {
        await using var server = await TestServer.StartAsync("--DfbNet:Executors=1", "--DfbNet:MaxAdmittedFrames=256", "--DfbNet:StreamQueueCapacity=16");
        using var flood = server.Client.ClassifyStream(new Metadata { { "dfbnet-mode", "full" } });
        var floodEvents = ReadAll(flood.ResponseStream);
        var flooding = Task.Run(async () =>
        {
            for (var i = 0; i < 400; i++)
            {
                await flood.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"x{i}", Image = Frames.Raw(i) } });
            }

            await flood.RequestStream.CompleteAsync();
        });

        using var quiet = server.Client.ClassifyStream(new Metadata { { "dfbnet-mode", "full" } });
        var quietEvents = ReadAll(quiet.ResponseStream);
        await Task.Delay(50);
        for (var i = 0; i < 20; i++)
        {
            await quiet.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"q{i}", Image = Frames.Raw(i) } });
            await Task.Delay(5);
        }

        await quiet.RequestStream.CompleteAsync();
        await flooding;
        var floodTimes = (await floodEvents).Where(e => e.Final).Select(e => e.ServerTime.ToTimeSpan()).Order().ToList();
        var quietTimes = (await quietEvents).Where(e => e.Final).Select(e => e.ServerTime.ToTimeSpan()).Order().ToList();
        Assert.Equal(400, floodTimes.Count);
        Assert.Equal(20, quietTimes.Count);

        // The flood waits behind its own queue; the quiet stream's frames are not stuck behind it.
        var quietMedian = quietTimes[quietTimes.Count / 2];
        var floodMedian = floodTimes[floodTimes.Count / 2];
        Assert.True(quietMedian * 3 < floodMedian, $"quiet median {quietMedian.TotalMilliseconds:F2} ms, flood median {floodMedian.TotalMilliseconds:F2} ms");
    }

    [Fact]
    public async Task OipStream_RunsItsRequestsConcurrently_InOneBatch()
    {
        // Each request alone would wait the whole queue delay for company; four in flight fill the batch at once.
        await using var server = await TestServer.StartAsync(
            "--DfbNet:MaxFramesInFlightPerStream=4", "--DfbNet:MaxBatchSize=4", "--DfbNet:MaxQueueDelayMicroseconds=1000000", "--DfbNet:Executors=1");
        var client = new Inference.GRPCInferenceService.GRPCInferenceServiceClient(server.Channel);
        using var call = client.ModelStreamInfer();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 4; i++)
        {
            var request = new Inference.ModelInferRequest { ModelName = "tiny", Id = $"r{i}" };
            request.Parameters["mode"] = new Inference.InferParameter { StringParam = "full" };
            request.Inputs.Add(new Inference.ModelInferRequest.Types.InferInputTensor { Name = "IMAGE", Datatype = "BYTES", Shape = { 1 } });
            request.RawInputContents.Add(BytesElement(ImageEncoding.EncodePng(CifarSlice.Hwc(i), 32, 32)));
            await call.RequestStream.WriteAsync(request);
        }

        await call.RequestStream.CompleteAsync();
        var finals = new List<string>();
        await foreach (var response in call.ResponseStream.ReadAllAsync())
        {
            Assert.True(string.IsNullOrEmpty(response.ErrorMessage), response.ErrorMessage);
            if (response.InferResponse.Parameters["triton_final_response"].BoolParam)
            {
                finals.Add(response.InferResponse.Id);
            }
        }

        Assert.Equal(["r0", "r1", "r2", "r3"], finals.Order());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(0.9), $"took {clock.Elapsed.TotalMilliseconds:F0} ms: the requests ran one by one");

        // Three stages, one run each for all four frames.
        var stats = (await client.ModelStatisticsAsync(new Inference.ModelStatisticsRequest { Name = "tiny" })).ModelStats[0];
        Assert.Equal(4ul, stats.InferenceCount);
        Assert.Equal(3ul, stats.ExecutionCount);

        var config = (await client.ModelConfigAsync(new Inference.ModelConfigRequest { Name = "tiny" })).Config;
        Assert.Equal(4, config.MaxBatchSize);
        Assert.Equal(1_000_000ul, config.DynamicBatching.MaxQueueDelayMicroseconds);
    }

    [Fact]
    public async Task ExpectedWait_LowersTheModelsLoadBound_FromTheMeasuredRuns_AndEveryFrameStillEndsOnce()
    {
        // A limit of 1 microsecond: any measured cost puts the load bound at its floor, two frames for the one executor.
        await using var server = await TestServer.StartAsync("--DfbNet:MaxExpectedWaitMicroseconds=1", "--DfbNet:Executors=1");
        var engine = server.Models.GetOrThrow("tiny");
        Assert.Equal((32, 32, TimeSpan.FromMicroseconds(1)), (engine.Admission.Bound, engine.Admission.LoadBound, engine.Admission.MaxExpectedWait));

        // One frame at a time: nothing refused while the cost windows (16 frames, 50 ms) are measured.
        using (var call = server.Client.ClassifyStream())
        {
            for (var i = 0; i < 20; i++)
            {
                if (i == 17)
                {
                    await Task.Delay(60);
                }

                await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"s{i}", Image = Frames.Raw(i) } });
                while (await call.ResponseStream.MoveNext() && !call.ResponseStream.Current.Final)
                {
                }

                Assert.NotEqual(ExitKind.Error, call.ResponseStream.Current.Kind);
            }

            await call.RequestStream.CompleteAsync();
        }

        await Eventually.HoldsAsync(() => engine.Admission.LoadBound == 2);
        Assert.True(engine.Admission.CostPerFrame > TimeSpan.Zero);

        // A burst on one stream against a bound of 2: each frame ends with exactly one final event, answered or refused
        // with a code; a refusal names the setting.
        using var burst = server.Client.ClassifyStream();
        var reading = ReadAll(burst.ResponseStream);
        for (var i = 0; i < 12; i++)
        {
            await burst.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"b{i:00}", Image = Frames.Raw(i) } });
        }

        await burst.RequestStream.CompleteAsync();
        var finals = (await reading).Where(e => e.Final).ToList();
        Assert.Equal(Enumerable.Range(0, 12).Select(i => $"b{i:00}"), finals.Select(e => e.FrameId).Order(StringComparer.Ordinal));
        Assert.All(finals.Where(e => e.Kind == ExitKind.Error), e =>
        {
            Assert.True(e.ErrorCode is "ResourceExhausted" or "Unavailable", e.ErrorCode);
            Assert.Contains("DfbNet:MaxExpectedWaitMicroseconds", e.Error, StringComparison.Ordinal);
        });
        Assert.Equal(0, engine.Admission.Admitted);
    }

    [Fact]
    public void Admission_RefusalCode_DependsOnTheClientsShare_AndTheReserveIsForClientsHoldingNone()
    {
        var admission = new ModelAdmission(4);
        Assert.Equal((1, 2), (admission.Reserve, admission.ShareFrom));
        var greedy = new AdmissionClient();
        var other = new AdmissionClient();
        for (var i = 0; i < 3; i++)
        {
            Assert.True(admission.TryAdmit(greedy, out _));
        }

        Assert.True(admission.TryAdmit(other, out _));

        // Two clients: a share of 2. The greedy one holds 3, the other 1.
        Assert.False(admission.TryAdmit(greedy, out var code));
        Assert.Equal(Core.FrameErrorCode.ResourceExhausted, code);
        Assert.False(admission.TryAdmit(other, out code));
        Assert.Equal(Core.FrameErrorCode.Unavailable, code);

        // A unary call (holding none) takes the reserve; the next one finds it taken.
        Assert.True(admission.TryAdmit(null, out _));
        Assert.False(admission.TryAdmit(null, out code));
        Assert.Equal(Core.FrameErrorCode.Unavailable, code);
        Assert.True(admission.TryRefuse(null, out code));
        Assert.Equal(Core.FrameErrorCode.Unavailable, code);
        Assert.Equal((3L, 1L), (admission.RefusedUnavailable, admission.RefusedResourceExhausted));

        admission.Release(null);
        admission.Release(other);
        Assert.Equal((3, 1), (admission.Admitted, admission.ActiveClients));
    }

    [Fact]
    public void Admission_FromHalfTheBound_HoldsEachStreamToItsShare_SoAQuietOneIsAdmitted()
    {
        var admission = new ModelAdmission(8);
        var flood = new AdmissionClient();
        var steady = new AdmissionClient();

        // Alone, a stream may take the whole bound's share: half of it before shares apply, and more.
        for (var i = 0; i < 5; i++)
        {
            Assert.True(admission.TryAdmit(flood, out _));
        }

        // A second stream: a share of 4 each. The flood holds 5: refused while the model is below its bound.
        Assert.True(admission.TryAdmit(steady, out _));
        Assert.False(admission.TryAdmit(flood, out var code));
        Assert.Equal(Core.FrameErrorCode.ResourceExhausted, code);
        Assert.True(admission.TryAdmit(steady, out _));
        Assert.True(admission.TryAdmit(steady, out _));
        Assert.Equal(8, admission.Admitted);

        // At the bound a quiet stream (holding none) is admitted in the reserve; a fourth finds it full.
        Assert.True(admission.TryAdmit(new AdmissionClient(), out _));
        Assert.False(admission.TryAdmit(new AdmissionClient(), out code));
        Assert.Equal(Core.FrameErrorCode.Unavailable, code);

        // Three streams holding frames: a share of 3; the steady one holds 3.
        Assert.False(admission.TryAdmit(steady, out code));
        Assert.Equal(Core.FrameErrorCode.ResourceExhausted, code);
        Assert.True(admission.TryRefuse(steady, out code));
        Assert.Equal(Core.FrameErrorCode.ResourceExhausted, code);
    }

    [Fact]
    public void Admission_AStreamRefusedThreeTimesInTheLastSecond_HasNoReserve()
    {
        var admission = new ModelAdmission(8);
        var a = new AdmissionClient();
        var b = new AdmissionClient();
        for (var i = 0; i < 4; i++)
        {
            Assert.True(admission.TryAdmit(a, out _));
            Assert.True(admission.TryAdmit(b, out _));
        }

        // The reserve (1) taken by a unary call: a stream holding none is refused; three times, and it is flooding.
        Assert.True(admission.TryAdmit(null, out _));
        var flooding = new AdmissionClient();
        var once = new AdmissionClient();
        Core.FrameErrorCode code;
        for (var i = 0; i < 3; i++)
        {
            Assert.False(admission.TryAdmit(flooding, out code));
            Assert.Equal(Core.FrameErrorCode.Unavailable, code);
        }

        Assert.False(admission.TryAdmit(once, out _));

        // The reserve is free again: not for the stream refused three times in the last second; for one refused once.
        admission.Release(null);
        Assert.False(admission.TryAdmit(flooding, out code));
        Assert.Equal(Core.FrameErrorCode.Unavailable, code);
        Assert.True(admission.TryAdmit(once, out _));
    }

    private static ByteString BytesElement(byte[] bytes)
    {
        var raw = new byte[bytes.Length + 4];
        BinaryPrimitives.WriteUInt32LittleEndian(raw, (uint)bytes.Length);
        bytes.CopyTo(raw, 4);
        return ByteString.CopyFrom(raw);
    }

    private static Task<List<ExitEvent>> ReadAll(IAsyncStreamReader<ExitEvent> stream) => Task.Run(async () =>
    {
        var list = new List<ExitEvent>();
        await foreach (var e in stream.ReadAllAsync())
        {
            list.Add(e);
        }

        return list;
    });
}
