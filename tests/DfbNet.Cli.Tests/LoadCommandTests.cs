using System.Text.Json;

namespace DfbNet.Cli.Tests;

/// <summary><c>dfbnet load</c> against a real server on a loopback port (the in-process test server, model "tiny").</summary>
public sealed class LoadCommandTests(CliServer server) : IClassFixture<CliServer>
{
    private static readonly string[] ClientOrRefusal = ["InvalidArgument", "Unavailable", "ResourceExhausted"];

    [Theory]
    [InlineData("native")]
    [InlineData("oip")]
    public async Task Load_Soak_BadInputsByKind_CountsAddUp_ServerRss(string protocol)
    {
        var json = Path.Combine(Path.GetTempPath(), $"dfbnet-soak-{Guid.NewGuid():N}.json");
        try
        {
            var (code, stdout, stderr) = await CliProcess.RunAsync(
                "load", "--server", server.Address, "--protocol", protocol, "--streams", "4", "--fps", "50", "--duration", "2", "--warmup", "0.5",
                "--bad-share", "0.3", "--server-pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json", json);
            Assert.True(code == 0, stdout + stderr);
            Assert.Contains("counts add up: sent 400", stdout, StringComparison.Ordinal);
            Assert.Contains("bad corrupt-jpeg:", stdout, StringComparison.Ordinal);
            Assert.Contains("server rss:", stdout, StringComparison.Ordinal);

            using var document = JsonDocument.Parse(await File.ReadAllTextAsync(json));
            var r = document.RootElement;
            var bad = r.GetProperty("badInputs");
            var kinds = bad.EnumerateObject().Select(k => k.Name).Order().ToList();
            Assert.Equal(["corrupt-jpeg", "empty-image", "not-an-image", "pixel-limit-png", "wrong-raw-size"], kinds);

            // Bad inputs are refused as the client's mistakes (the pixel-limit PNG is a valid image: answered), never an
            // internal error; on a busy machine a frame may be refused at admission first. About 30% of the frames were bad.
            foreach (var kind in new[] { "corrupt-jpeg", "empty-image", "not-an-image", "wrong-raw-size" })
            {
                var outcomes = bad.GetProperty(kind).EnumerateObject().Select(o => o.Name).ToList();
                Assert.Contains("InvalidArgument", outcomes);
                Assert.All(outcomes, o => Assert.Contains(o, ClientOrRefusal));
            }

            var badFrames = bad.EnumerateObject().Sum(k => k.Value.EnumerateObject().Sum(o => o.Value.GetInt32()));
            Assert.InRange(badFrames, 80, 160);
            var errors = r.GetProperty("errorsByCode");
            Assert.Equal(["InvalidArgument"], errors.EnumerateObject().Select(e => e.Name).Distinct());
            var accuracy = r.GetProperty("accuracy");
            Assert.Equal(r.GetProperty("counts").GetProperty("answered").GetInt32() - bad.GetProperty("pixel-limit-png").EnumerateObject().Where(o => o.Name == "answered").Sum(o => o.Value.GetInt32()), accuracy.GetProperty("answered").GetInt32());
            var memory = r.GetProperty("serverMemory");
            Assert.True(memory.GetProperty("peakMb").GetDouble() >= memory.GetProperty("startMb").GetDouble());
            Assert.True(memory.GetProperty("samples").GetInt32() >= 2);
        }
        finally
        {
            File.Delete(json);
        }
    }

    [Theory]
    [InlineData("native")]
    [InlineData("oip")]
    public async Task Load_ShortOpenLoopRun_EveryFrameSentEndsWithOneFinalEventAndTheJsonSaysSo(string protocol)
    {
        var json = Path.Combine(Path.GetTempPath(), $"dfbnet-load-{Guid.NewGuid():N}.json");
        try
        {
            // The test server runs in this process, so its CPU is this process's.
            var (code, stdout, stderr) = await CliProcess.RunAsync(
                "load", "--server", server.Address, "--protocol", protocol, "--streams", "4", "--fps", "50", "--duration", "2", "--warmup", "0.5",
                "--budget-ms", "0,20", "--server-pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json", json);
            Assert.True(code == 0, stdout + stderr);
            Assert.Contains("counts add up: sent 400 = answered + expired + refused + dropped + errors", stdout, StringComparison.Ordinal);
            Assert.Contains("measuring  sent ", stderr, StringComparison.Ordinal);

            using var document = JsonDocument.Parse(await File.ReadAllTextAsync(json));
            var r = document.RootElement;
            var settings = r.GetProperty("settings");
            Assert.Equal(protocol, settings.GetProperty("protocol").GetString());
            Assert.Equal("tiny", settings.GetProperty("model").GetString());
            Assert.Equal(200, settings.GetProperty("offeredRate").GetDouble());

            // Fixed arrivals: frames (k + i/4) / 50 s of stream i inside [0.5 s, 2.5 s) are 100 per stream.
            var counts = r.GetProperty("counts");
            int Count(string name) => counts.GetProperty(name).GetInt32();
            Assert.Equal(400, Count("scheduled"));
            Assert.Equal(400, Count("sent"));
            Assert.Equal(0, Count("unsent"));
            Assert.Equal(Count("sent"), Count("answered") + Count("expired") + Count("refused") + Count("dropped") + Count("errors"));
            Assert.Equal(0, Count("noFinalEvent"));
            Assert.Equal(0, Count("duplicateFinalEvents"));
            Assert.Equal(0, Count("unknownEvents"));
            Assert.True(counts.GetProperty("balanced").GetBoolean());
            Assert.True(r.GetProperty("countsAddUp").GetBoolean());
            var answered = Count("answered");
            Assert.True(answered > 0, stdout);

            // Each frame's first event comes no later than its final one, so every percentile is ordered the same way.
            var first = r.GetProperty("firstEventMs");
            var final = r.GetProperty("finalEventMs");
            Assert.Equal(answered, final.GetProperty("count").GetInt32());
            Assert.InRange(first.GetProperty("p50").GetDouble(), 0.001, final.GetProperty("p50").GetDouble());
            Assert.InRange(final.GetProperty("p99").GetDouble(), final.GetProperty("p50").GetDouble(), final.GetProperty("max").GetDouble());
            Assert.True(r.GetProperty("serverTimeMs").GetProperty("p50").GetDouble() > 0);
            Assert.Equal(400, r.GetProperty("writeLagMs").GetProperty("count").GetInt32());

            Assert.Equal(answered, r.GetProperty("finalExits").EnumerateObject().Sum(p => p.Value.GetInt32()));
            Assert.Equal(answered, r.GetProperty("accuracy").GetProperty("answered").GetInt32());
            Assert.Equal(2, r.GetProperty("refusalsByCode").EnumerateObject().Count());

            // Budgets cycle 0, 20, 0, 20...: frames 25..124 of each stream are measured, 50 of them odd.
            var budget = Assert.Single(r.GetProperty("budgets").EnumerateArray());
            Assert.Equal(20, budget.GetProperty("budgetMs").GetDouble());
            Assert.Equal(200, budget.GetProperty("frames").GetInt32());
            Assert.InRange(budget.GetProperty("hitsClient").GetInt32(), 0, 200);

            Assert.True(r.GetProperty("serverCpu").GetProperty("cpuMs").GetDouble() > 0);
            Assert.True(r.GetProperty("clientCpu").GetProperty("cpuMs").GetDouble() > 0);
            Assert.Equal(Environment.ProcessorCount, r.GetProperty("clientCpu").GetProperty("machineCores").GetInt32());
            Assert.Empty(r.GetProperty("violations").EnumerateArray());
        }
        finally
        {
            File.Delete(json);
        }
    }

    [Fact]
    public async Task Load_InProcess_RunsTheFramesThroughAnEngineInThisProcessAndTheCountsAddUp()
    {
        var json = Path.Combine(Path.GetTempPath(), $"dfbnet-load-in-process-{Guid.NewGuid():N}.json");
        try
        {
            // No server: the model folder of the test server's "tiny", loaded by the dfbnet process itself.
            var (code, stdout, stderr) = await CliProcess.RunAsync(
                "load", "--in-process", server.TinyModel, "--streams", "2", "--fps", "50", "--duration", "1", "--warmup", "0.5", "--budget-ms", "0,20", "--json", json);
            Assert.True(code == 0, stdout + stderr);
            Assert.Contains("in-process, 2 streams x 50 fps = 100 frames/s offered", stdout, StringComparison.Ordinal);
            Assert.Contains("counts add up: sent 100 = answered + expired + refused + dropped + errors", stdout, StringComparison.Ordinal);

            using var document = JsonDocument.Parse(await File.ReadAllTextAsync(json));
            var r = document.RootElement;
            var settings = r.GetProperty("settings");
            Assert.Equal("in-process", settings.GetProperty("protocol").GetString());
            Assert.Equal("tiny", settings.GetProperty("model").GetString());
            Assert.Equal("in-process " + server.TinyModel, settings.GetProperty("server").GetString());
            Assert.Equal("first-exit", settings.GetProperty("mode").GetString());

            // Fixed arrivals: frames (k + i/2) / 50 s of stream i inside [0.5 s, 1.5 s) are 50 per stream.
            var counts = r.GetProperty("counts");
            int Count(string name) => counts.GetProperty(name).GetInt32();
            Assert.Equal(100, Count("scheduled"));
            Assert.Equal(100, Count("sent"));
            Assert.Equal(Count("sent"), Count("answered") + Count("expired") + Count("refused") + Count("dropped") + Count("errors"));
            Assert.Equal(0, Count("noFinalEvent") + Count("duplicateFinalEvents") + Count("unknownEvents"));
            Assert.True(r.GetProperty("countsAddUp").GetBoolean());

            // Two streams at 50 fps each are far below what the engine carries: no frame is refused, dropped or failed, and
            // every one is answered but for a 20 ms budget that a machine busy with other work lets lapse now and then
            // (seen here with a training run on both cores: 98 answered, 2 expired).
            var answered = Count("answered");
            Assert.Equal(0, Count("refused") + Count("dropped") + Count("errors"));
            Assert.Equal(100, answered + Count("expired"));
            Assert.InRange(answered, 90, 100);
            Assert.Equal(answered, r.GetProperty("finalExits").EnumerateObject().Sum(p => p.Value.GetInt32()));
            Assert.Equal(answered, r.GetProperty("serverTimeMs").GetProperty("count").GetInt32());
            var serverP50 = r.GetProperty("serverTimeMs").GetProperty("p50").GetDouble();
            Assert.True(serverP50 > 0);

            // The engine's time is inside the client's: the final event comes after the frame was due and was handed over.
            Assert.True(r.GetProperty("finalEventMs").GetProperty("p50").GetDouble() >= serverP50);

            // Batches come from the engine's own statistics, read at the window's edges.
            var batches = r.GetProperty("serverBatches");
            Assert.True(batches.GetProperty("runs").GetInt64() > 0, batches.ToString());
            Assert.InRange(batches.GetProperty("meanBatch").GetDouble(), 1, 8);

            // Budgets cycle 0, 20: frames 25..74 of each stream are measured, 25 of them odd. Within the budget plus the
            // client's slack counts at least the frames within the budget.
            var budget = Assert.Single(r.GetProperty("budgets").EnumerateArray());
            Assert.Equal(50, budget.GetProperty("frames").GetInt32());
            Assert.InRange(budget.GetProperty("hitsClientSlack").GetInt32(), budget.GetProperty("hitsClient").GetInt32(), 50);
            Assert.False(r.TryGetProperty("serverCpu", out var cpu) && cpu.ValueKind != JsonValueKind.Null);
        }
        finally
        {
            File.Delete(json);
        }
    }

    [Fact]
    public async Task Load_Sweep_PrintsARowPerRateAndTheCapacity()
    {
        var json = Path.Combine(Path.GetTempPath(), $"dfbnet-sweep-{Guid.NewGuid():N}.json");
        try
        {
            var (code, stdout, stderr) = await CliProcess.RunAsync(
                "load", "--server", server.Address, "--streams", "2", "--sweep", "20:80:2", "--duration", "1", "--warmup", "0", "--p99-bound-ms", "1000", "--json", json);
            Assert.True(code == 0, stdout + stderr);
            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.StartsWith("OFFERED/S  SENT/S  THROUGHPUT/S  P50_MS  P99_MS", lines[0], StringComparison.Ordinal);
            Assert.StartsWith("20.0 ", lines[1], StringComparison.Ordinal);
            Assert.StartsWith("80.0 ", lines[2], StringComparison.Ordinal);

            using var document = JsonDocument.Parse(await File.ReadAllTextAsync(json));
            var r = document.RootElement;
            Assert.Equal("geometric", r.GetProperty("scale").GetString());
            var steps = r.GetProperty("steps").EnumerateArray().ToList();
            Assert.Equal([20.0, 80.0], steps.Select(s => s.GetProperty("settings").GetProperty("offeredRate").GetDouble()));
            Assert.All(steps, s => Assert.True(s.GetProperty("countsAddUp").GetBoolean()));

            // A loopback server carries 80 frames/s of a tiny model well inside a 1 s p99, refusing nothing.
            Assert.Equal(80, r.GetProperty("capacity").GetDouble());
            Assert.Contains("capacity: 80.0 frames/s", stdout, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(json);
        }
    }

    [Theory]
    [InlineData("--fps -1", "--fps '-1' is not a positive number.")]
    [InlineData("--sweep 5:1:x", "--sweep '5:1:x' is not START:STOP:STEPS")]
    [InlineData("--fps 10 --data /nonexistent/test_batch.bin", "--data '/nonexistent/test_batch.bin' does not exist.")]
    [InlineData("--fps 10 --rate 40", "give --fps (per stream) or --rate (total over all streams), not both.")]
    [InlineData("--streams 0 --fps 10", "--streams '0' is not an integer from 1 to 10000.")]
    [InlineData("--fps 10 --budget-ms 5,x", "--budget-ms '5,x': 'x' is not a non-negative number")]
    [InlineData("--fps 10 --protocol grpc", "--protocol 'grpc' is not one of native, oip.")]
    [InlineData("--duration 10", "--fps (per stream) or --rate (total frames/s) is required")]
    [InlineData("--fps 10 --in-process /nonexistent", "--in-process '/nonexistent' is not a model folder (it holds no manifest.json).")]
    [InlineData("--fps 10 --bad-share 0.7", "--bad-share 0.7 must be between 0 and 0.5")]
    public async Task Load_BadArguments_OneLineNamingTheOptionAndExitCode2(string arguments, string message)
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync(["load", "--server", server.Address, .. arguments.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("dfbnet load: " + message, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Load_NotACifarFile_SaysWhatIsWrongWithIt()
    {
        var file = Path.Combine(Path.GetTempPath(), $"dfbnet-not-cifar-{Guid.NewGuid():N}.bin");
        await File.WriteAllBytesAsync(file, new byte[3073 + 100]);
        try
        {
            var (code, _, stderr) = await CliProcess.RunAsync("load", "--server", server.Address, "--fps", "10", "--data", file);
            Assert.Equal(2, code);
            Assert.Contains("--data: CIFAR file", stderr, StringComparison.Ordinal);
            Assert.Contains("not a whole number of 3073-byte records", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Load_UnreachableServer_ExitCode1WithoutRunning()
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync("load", "--server", $"http://127.0.0.1:{DfbNet.Testing.LoopbackPort.Free()}", "--fps", "10", "--duration", "1");
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("dfbnet load: cannot reach the DfbNet server", stderr, StringComparison.Ordinal);
    }
}
