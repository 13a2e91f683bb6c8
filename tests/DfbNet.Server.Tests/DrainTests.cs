using DfbNet.Protocol.V1;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DfbNet.Server.Tests;

/// <summary>Shutdown with streams open: every frame a stream accepted is answered before it ends UNAVAILABLE.</summary>
public sealed class DrainTests
{
    [Fact]
    public async Task Shutdown_AnswersEveryAcceptedFrame_AndEndsStreamsWithUnavailable()
    {
        var server = await TestServer.StartAsync("--DfbNet:Executors=1", "--DfbNet:MaxAdmittedFrames=1024");
        try
        {
            // Four streams sending as fast as they can, several frames in flight each.
            var answered = new int[4];
            var streams = Enumerable.Range(0, 4).Select(s => RunStream(server, s, answered)).ToArray();

            // The drain starts once every stream is under way (has had frames answered) and has streamed for a second.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (Enumerable.Range(0, answered.Length).Any(i => Volatile.Read(ref answered[i]) == 0) && clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(20);
            }

            Assert.True(answered.All(a => a > 0), $"streams answered {string.Join(", ", answered)} after {clock.Elapsed.TotalMilliseconds:F0} ms");
            await Task.Delay(1000);

            var health = server.App.Services.GetRequiredService<HealthCheckService>();
            Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);
            var stopping = server.App.StopAsync();
            Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync()).Status);
            await stopping.WaitAsync(TimeSpan.FromSeconds(30));

            foreach (var result in await Task.WhenAll(streams))
            {
                Assert.True(result.Status.StatusCode == StatusCode.Unavailable, result.Status.ToString());
                Assert.Contains("shutting down", result.Status.Detail, StringComparison.Ordinal);
                Assert.True(result.Accepted > 0, $"the stream had frames answered before the drain: accepted {result.Accepted}, finals {result.Finals.Count}, sent {result.Sent}, {result.Status}");
                Assert.True(result.Sent >= result.Accepted);

                // Exactly the frames accepted were answered, each with one final event.
                Assert.Equal(result.Accepted, result.Finals.Count);
                Assert.Equal(result.Finals.Count, result.Finals.Distinct().Count());
            }
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    private static async Task<StreamResult> RunStream(TestServer server, int index, int[] answered)
    {
        using var call = server.Client.ClassifyStream();
        var finals = new List<string>();
        var sent = 0;
        var writing = Task.Run(async () =>
        {
            try
            {
                for (var i = 0; i < 100_000; i++)
                {
                    await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"{index}-{i}", Image = Frames.Raw(i) } });
                    sent++;
                }
            }
            catch (Exception ex) when (ex is RpcException or InvalidOperationException or OperationCanceledException or HttpRequestException or IOException)
            {
                // The call ended (the server stopped reading), or the connection closed once every call on it had ended.
            }
        });

        Status status;
        Metadata trailers;
        try
        {
            await foreach (var e in call.ResponseStream.ReadAllAsync())
            {
                if (e.Final)
                {
                    finals.Add(e.FrameId);
                    Interlocked.Increment(ref answered[index]);
                }
            }

            status = Status.DefaultSuccess;
            trailers = call.GetTrailers();
        }
        catch (RpcException ex)
        {
            status = ex.Status;
            trailers = ex.Trailers;
        }

        await writing;
        var accepted = trailers.GetValue("dfbnet-frames-accepted") is { } value ? long.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : -1;
        return new StreamResult(status, accepted, sent, finals);
    }

    private sealed record StreamResult(Status Status, long Accepted, int Sent, List<string> Finals);
}
