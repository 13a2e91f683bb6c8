using DfbNet.Protocol.V1;
using Grpc.Core;

namespace DfbNet.Server.Tests;

/// <summary>DfbNet:MaxStreamSeconds: a stream past its lifetime stops reading, answers what it took and ends UNAVAILABLE.</summary>
public sealed class StreamLifetimeTests
{
    [Fact]
    public async Task Stream_PastItsLifetime_AnswersEveryFrameItTook_ThenEndsUnavailableWithTheCount()
    {
        await using var server = await TestServer.StartAsync("--DfbNet:MaxStreamSeconds=1");
        using var call = server.Client.ClassifyStream();
        var finals = new HashSet<string>();
        var reader = Task.Run(async () =>
        {
            await foreach (var e in call.ResponseStream.ReadAllAsync())
            {
                if (e.Final)
                {
                    Assert.True(finals.Add(e.FrameId), $"two final events for {e.FrameId}");
                }
            }
        });

        // 25 frames a second until the server stops reading (writes then pile up in the window, or fail).
        var sent = 0;
        var opened = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            for (; sent < 100 && !reader.IsCompleted; sent++)
            {
                await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"f{sent}", Image = Frames.Png(sent) } });
                await Task.Delay(40);
            }
        }
        catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException)
        {
            // The call ended while a frame was being written: that frame was never taken.
        }

        var end = await Assert.ThrowsAsync<RpcException>(() => reader);
        var lived = opened.Elapsed;
        Assert.Equal(StatusCode.Unavailable, end.StatusCode);
        Assert.Contains("maximum lifetime (DfbNet:MaxStreamSeconds 1 s", end.Status.Detail, StringComparison.Ordinal);
        var accepted = int.Parse(end.Trailers.GetValue("dfbnet-frames-accepted")!, System.Globalization.CultureInfo.InvariantCulture);

        // Every frame taken was answered once; the stream ended after 0.9 to 1 s (its lifetime less up to a tenth), plus
        // the time to answer what it had taken.
        Assert.Equal(accepted, finals.Count);
        Assert.InRange(accepted, 3, sent);
        Assert.InRange(lived, TimeSpan.FromSeconds(0.85), TimeSpan.FromSeconds(3));
    }
}
