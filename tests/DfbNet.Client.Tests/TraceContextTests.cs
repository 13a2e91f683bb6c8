using System.Diagnostics;

namespace DfbNet.Client.Tests;

/// <summary>The SDK's calls carry the caller's W3C trace context (traceparent), so the server's spans join its trace.</summary>
public sealed class TraceContextTests
{
    [Fact]
    public async Task ClassifyAndStream_InsideAnActivity_SendItsTraceparent()
    {
        using var source = new ActivitySource("DfbNet.Client.Tests.TraceContext");
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == source.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);

        await using var server = await LoopbackServer.StartAsync();
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = server.Address });
        using var activity = source.StartActivity("camera loop")!;
        await client.ClassifyAsync(Images.Png(0));
        await foreach (var e in client.StreamAsync(Images.Frames(2)))
        {
            _ = e;
        }

        Assert.Equal(2, server.Calls.All.Count);
        foreach (var (method, headers) in server.Calls.All)
        {
            var traceparent = headers.GetValue("traceparent");
            Assert.True(traceparent is not null, $"{method} carried no traceparent");
            Assert.Equal(activity.TraceId.ToString(), traceparent.Split('-')[1]);
        }
    }
}
