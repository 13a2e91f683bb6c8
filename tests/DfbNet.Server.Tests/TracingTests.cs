using System.Diagnostics;
using DfbNet.Protocol.V1;
using DfbNet.Testing;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace DfbNet.Server.Tests;

/// <summary>Traces to an in-memory exporter: the client's W3C trace context, a span per call, per frame and per stage.</summary>
public sealed class TracingTests
{
    [Fact]
    public async Task Stream_WithTraceContext_GivesACallSpan_AFrameSpanPerFrame_AndAStageSpanPerRunWithItsBatch()
    {
        var spans = new LockedSpans();
        await using var server = await TestServer.StartAsync(
            builder => builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans)),
            "--DfbNet:Tracing:Enabled=true",
            "--DfbNet:MaxFramesInFlightPerStream=4");

        var traceId = ActivityTraceId.CreateRandom();
        var clientSpan = ActivitySpanId.CreateRandom();
        var headers = new Metadata { { "traceparent", $"00-{traceId}-{clientSpan}-01" } };
        using (var call = server.Client.ClassifyStream(headers))
        {
            await call.RequestStream.WriteAsync(new StreamRequest { Options = new StreamOptions { Mode = InferenceMode.Full } });
            for (var i = 0; i < 3; i++)
            {
                await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"t{i}", Image = Frames.Png(i) } });
            }

            await call.RequestStream.CompleteAsync();
            await foreach (var e in call.ResponseStream.ReadAllAsync())
            {
                _ = e;
            }
        }

        // The call's span ends after its response; spans of other tests' servers in this process have other trace ids.
        await Eventually.HoldsAsync(() => Traced(spans, traceId).Any(s => s.Source.Name == "Microsoft.AspNetCore"));
        var ours = Traced(spans, traceId);
        var callSpan = Assert.Single(ours, s => s.Source.Name == "Microsoft.AspNetCore");
        Assert.Equal(clientSpan, callSpan.ParentSpanId);
        Assert.Contains("ClassifyStream", callSpan.DisplayName, StringComparison.Ordinal);

        var frames = ours.Where(s => s.OperationName == "frame").ToList();
        Assert.Equal(["t0", "t1", "t2"], frames.Select(f => (string)f.GetTagItem("dfbnet.frame_id")!).Order());
        Assert.All(frames, f => Assert.Equal(callSpan.SpanId, f.ParentSpanId));
        Assert.All(frames, f => Assert.Equal("tiny", f.GetTagItem("dfbnet.model")));

        // Full mode: every frame runs the model's three stages, each a span under the frame's, with its batch.
        foreach (var frame in frames)
        {
            var stages = ours.Where(s => s.ParentSpanId == frame.SpanId).OrderBy(s => s.StartTimeUtc).ToList();
            Assert.Equal(["stage 1", "stage 2", "stage 3"], stages.Select(s => s.OperationName));
            Assert.All(stages, s => Assert.NotNull(s.GetTagItem("dfbnet.batch.id")));
            Assert.All(stages, s => Assert.InRange((int)s.GetTagItem("dfbnet.batch.size")!, 1, 4));
            Assert.All(stages, s => Assert.InRange(s.StartTimeUtc, frame.StartTimeUtc, frame.StartTimeUtc + frame.Duration));
            Assert.Equal(3, frame.GetTagItem("dfbnet.exits_computed"));
        }

        var resource = server.App.Services.GetRequiredService<TracerProvider>().GetResource();
        Assert.Contains(resource.Attributes, a => a.Key == "service.name" && (string)a.Value == "dfbnet-server");
    }

    [Fact]
    public async Task TracingOff_ByDefault_NoTracerProvider()
    {
        await using var server = await TestServer.StartAsync();
        Assert.Null(server.App.Services.GetService<TracerProvider>());
    }

    private static List<Activity> Traced(LockedSpans spans, ActivityTraceId traceId)
    {
        lock (spans.Gate)
        {
            return [.. spans.Where(s => s.TraceId == traceId)];
        }
    }

    /// <summary>The exporter adds from the threads that end spans; the test reads under the same lock.</summary>
    private sealed class LockedSpans : System.Collections.ObjectModel.Collection<Activity>
    {
        public Lock Gate { get; } = new();

        protected override void InsertItem(int index, Activity item)
        {
            lock (Gate)
            {
                base.InsertItem(index, item);
            }
        }
    }
}
