using System.Net;
using DfbNet.Core.Onnx;
using DfbNet.Protocol.V1;
using DfbNet.Testing;

namespace DfbNet.Server.Tests;

/// <summary>Runs alone: meters are process-wide, so other tests' servers would show in the gauges.</summary>
[CollectionDefinition(nameof(MetricsTests), DisableParallelization = true)]
public sealed class MetricsTestsCollection;

[Collection(nameof(MetricsTests))]
public sealed class MetricsTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "dfbnet-metrics-" + Guid.NewGuid().ToString("N"));

    public MetricsTests()
    {
        SyntheticModelFolder.Write(Path.Combine(_root, "tiny"), new SyntheticDfbNetOptions { InputSize = 32, Seed = 7 });
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task MetricsUrl_ServesPrometheusTextOverHttp1_WithFramesExitsAndStageTimesByProvider()
    {
        var port = LoopbackPort.Free();
        await using var server = await TestServer.StartAsync($"--DfbNet:MetricsUrl=http://127.0.0.1:{port}");
        var grpcAddress = TestServer.GrpcAddress(server.App);
        Assert.NotEqual(port, new Uri(grpcAddress).Port);
        for (var i = 0; i < 3; i++)
        {
            await server.Client.ClassifyAsync(new ClassifyRequest { Image = Frames.Png(i), Options = new StreamOptions { Mode = InferenceMode.Full } });
        }

        using var http = new HttpClient { DefaultRequestVersion = HttpVersion.Version11, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        var text = await response.Content.ReadAsStringAsync();

        // Full mode: every frame ends with the fusion of all exits (exit 0), each of the 3 stages ran on the CPU.
        var fused = Sample(text, "dfbnet_frames_total{", "kind=\"fused\"", "model=\"tiny\"");
        Assert.True(fused >= 3, text);
        foreach (var stage in new[] { "1", "2", "3" })
        {
            var runs = Sample(text, "dfbnet_stage_duration_seconds_count{", "provider=\"CPU\"", $"stage=\"{stage}\"");
            Assert.True(runs >= 3, $"stage {stage}: {runs}");
        }

        Assert.True(Sample(text, "dfbnet_frame_duration_seconds_count{", "model=\"tiny\"") >= 3);
        Assert.Contains("dfbnet_provider_sessions_total", text, StringComparison.Ordinal);

        // Gauges: nothing in flight, no stream open, nothing queued once the calls are answered.
        Assert.Equal(0, Sample(text, "dfbnet_frames_in_flight{", "model=\"tiny\""));
        Assert.Contains("dfbnet_frames_in_flight{", text, StringComparison.Ordinal);
        Assert.Equal(0, Sample(text, "dfbnet_streams_active"));
        Assert.Contains("dfbnet_streams_active", text, StringComparison.Ordinal);
        Assert.Contains("dfbnet_stream_queued_frames", text, StringComparison.Ordinal);
        Assert.Equal(0, Sample(text, "dfbnet_decode_memory_bytes{"));
        Assert.Equal(0, Sample(text, "dfbnet_decode_waiting{"));
        Assert.Contains("dfbnet_decode_waiting{", text, StringComparison.Ordinal);

        // The scrape listener serves nothing but /metrics; the gRPC listener stays HTTP/2-only.
        using var other = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/grpc.health.v1.Health/Check"));
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        Assert.False(await AnswersHttp1(http, new Uri($"{grpcAddress}/metrics")));
    }

    [Fact]
    public async Task Gauges_CountOpenStreams_WhileTheyAreOpen()
    {
        var port = LoopbackPort.Free();
        await using var server = await TestServer.StartAsync($"--DfbNet:MetricsUrl=http://127.0.0.1:{port}");
        using var http = new HttpClient { DefaultRequestVersion = HttpVersion.Version11, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var metrics = new Uri($"http://127.0.0.1:{port}/metrics");
        Assert.Equal(0, Sample(await http.GetStringAsync(metrics), "dfbnet_streams_active"));

        using (var call = server.Client.ClassifyStream())
        {
            await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = "a", Image = Frames.Png(0) } });
            while (await call.ResponseStream.MoveNext(CancellationToken.None) && !call.ResponseStream.Current.Final)
            {
            }

            // The stream is open (its frame answered, the request side not completed): one stream, nothing queued.
            var open = await ScrapeUntil(http, metrics, text => Sample(text, "dfbnet_streams_active") == 1);
            Assert.Equal(0, Sample(open, "dfbnet_stream_queued_frames"));
            await call.RequestStream.CompleteAsync();
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
            }
        }

        // Closed: the server lets go of it once the call has ended on its side.
        await ScrapeUntil(http, metrics, text => Sample(text, "dfbnet_streams_active") == 0);
    }

    /// <summary>Scrapes until <paramref name="done"/> holds (the exporter may serve a cached scrape for a moment); fails
    /// after 10 s with the last scrape.</summary>
    private static async Task<string> ScrapeUntil(HttpClient http, Uri metrics, Func<string, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var text = await http.GetStringAsync(metrics);
            if (done(text))
            {
                return text;
            }

            Assert.True(DateTime.UtcNow < deadline, text);
            await Task.Delay(50);
        }
    }

    [Theory]
    [InlineData("ftp://127.0.0.1:9464", "explicit port")]
    [InlineData("http://127.0.0.1:0", "explicit port")]
    [InlineData("http://127.0.0.1:{grpc}", "port of its own")]
    public void BadMetricsUrl_StopsStartupNamingTheSetting(string url, string reason)
    {
        var grpc = LoopbackPort.Free();
        url = url.Replace("{grpc}", grpc.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var ex = Assert.Throws<InvalidOperationException>(() => TestServer.Build(_root, "--urls", $"http://127.0.0.1:{grpc}", $"--DfbNet:MetricsUrl={url}"));
        Assert.Contains("DfbNet:MetricsUrl", ex.Message, StringComparison.Ordinal);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    private static async Task<bool> AnswersHttp1(HttpClient http, Uri uri)
    {
        try
        {
            using var response = await http.GetAsync(uri);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    /// <summary>Sum of the samples of a metric whose label set contains every given label.</summary>
    private static double Sample(string text, string prefix, params string[] labels) => text
        .Split('\n')
        .Where(line => line.StartsWith(prefix, StringComparison.Ordinal) && labels.All(l => line.Contains(l, StringComparison.Ordinal)))
        .Sum(line => double.Parse(line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture));
}
