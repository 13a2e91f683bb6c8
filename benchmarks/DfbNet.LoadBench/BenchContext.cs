using System.Globalization;
using System.Text.Json.Nodes;
using DfbNet.LoadBench.Processes;
using DfbNet.LoadBench.Scenarios;

namespace DfbNet.LoadBench;

/// <summary>
/// What the scenarios share: where things are, the frames, the progress, every run made so far (for results.json), and
/// the reference capacity that later scenarios scale their load by.
/// </summary>
internal sealed class BenchContext
{
    /// <summary>Seconds a <c>dfbnet load</c> process takes beyond its schedule (start-up, encoding, the JSON).</summary>
    public const double ProcessSeconds = 0.8;

    /// <summary>Seconds to start a server and stop it.</summary>
    public const double ServerSeconds = 2;

    /// <summary>The streams of the reference capacity (batching on), as overload and budget load the server.</summary>
    public const int ReferenceStreams = 16;

    private readonly Dictionary<string, JsonArray> _runs = new(StringComparer.Ordinal);

    // Two loads may run at once (the quiet scenario): their records and progress lines go in one at a time.
    private readonly Lock _gate = new();
    private int _serial;

    public BenchContext(BenchPaths paths, BenchOptions options, string data, int images, BenchProgress progress)
    {
        Paths = paths;
        Options = options;
        Data = data;
        Images = images;
        Progress = progress;
    }

    public BenchPaths Paths { get; }

    public BenchOptions Options { get; }

    public bool Quick => Options.Quick;

    /// <summary>The CIFAR-10 batch the frames come from.</summary>
    public string Data { get; }

    public int Images { get; }

    public BenchProgress Progress { get; }

    public string LogFolder => Path.Combine(Options.OutputFolder, "logs");

    /// <summary>Where each run's JSON is written (kept: results.json holds them too).</summary>
    public string RunFolder => Path.Combine(Options.OutputFolder, "runs");

    /// <summary>The batching-on capacity at <see cref="ReferenceStreams"/> streams, frames/s; null until known.</summary>
    public double? Capacity { get; private set; }

    /// <summary>The final-event p99 of the run at <see cref="Capacity"/>, where one was made.</summary>
    public double? P99AtCapacity { get; private set; }

    /// <summary>Where <see cref="Capacity"/> came from, for the tables.</summary>
    public string CapacitySource { get; private set; } = "";

    /// <summary>Creates the output folder with its logs/ and runs/, which a .gitignore there keeps out of a commit of the
    /// results (results.json holds every run's JSON already).</summary>
    public void CreateFolders()
    {
        Directory.CreateDirectory(Options.OutputFolder);
        Directory.CreateDirectory(LogFolder);
        Directory.CreateDirectory(RunFolder);
        File.WriteAllText(Path.Combine(Options.OutputFolder, ".gitignore"), "logs/\nruns/\n");
    }

    /// <summary>The runs of a scenario as results.json holds them.</summary>
    public JsonArray Runs(string scenario)
    {
        lock (_gate)
        {
            return RunList(scenario);
        }
    }

    public static double Seconds(LoadSpec spec) => spec.WarmupSeconds + spec.DurationSeconds + ProcessSeconds;

    public void SetCapacity(double capacity, double? p99, string source)
    {
        Capacity = capacity;
        P99AtCapacity = p99;
        CapacitySource = source;
    }

    /// <summary>The reference capacity: found already, given with --capacity, or else found now by a short probe.</summary>
    public async Task<double> ReferenceCapacityAsync(CancellationToken cancellationToken)
    {
        if (Capacity is { } known)
        {
            return known;
        }

        if (Options.Capacity is { } given)
        {
            SetCapacity(given, null, "--capacity");
            return given;
        }

        Progress.Say("capacity unknown (the capacity scenario did not run, and no --capacity): probing it with a short sweep.");
        var sweep = await CapacityScenario.ProbeAsync(this, cancellationToken);
        if (sweep.AtCapacity is not { } at)
        {
            throw new BenchException($"the capacity probe found no rate that {ReferenceStreams} streams carry with a final-event p99 under {CapacityScenario.P99BoundMs} ms and nothing refused; see {LogFolder}.");
        }

        SetCapacity(at.Offered, at.FinalP99, "a short probe (16 streams, batching on)");
        return at.Offered;
    }

    public Task<ServerProcess> StartServerAsync(string scenario, ServerSettings settings, CancellationToken cancellationToken) =>
        ServerProcess.StartAsync(Paths, settings, Path.Combine(LogFolder, $"{scenario}-server-{Interlocked.Increment(ref _serial):000}.log"), cancellationToken);

    /// <summary>Runs <c>dfbnet load</c> against <paramref name="server"/> (null: in-process), records the run, and
    /// prints a progress line.</summary>
    public async Task<LoadRun> LoadAsync(string scenario, string label, LoadSpec spec, ServerProcess? server, string serverDescription, CancellationToken cancellationToken)
    {
        var name = $"{scenario}-{Interlocked.Increment(ref _serial):000}";
        var run = await LoadProcess.RunAsync(Paths, label, spec, server, Data, Path.Combine(RunFolder, name + ".json"), Path.Combine(LogFolder, name + ".log"), cancellationToken);
        var record = run.ToJson();
        record["server"] = serverDescription;
        record["serverInterrupted"] = server?.Interrupted ?? false;
        lock (_gate)
        {
            RunList(scenario).Add(record);
            Progress.Done(scenario, label, Summary(run));
        }

        return run;
    }

    /// <summary>Starts a server with <paramref name="settings"/>, makes one run against it, and stops it; once more on a
    /// new server if something outside stopped the first one during the run.</summary>
    public async Task<LoadRun> LoadOnFreshServerAsync(string scenario, string label, LoadSpec spec, ServerSettings settings, CancellationToken cancellationToken)
    {
        await using var session = new ServerSession(this, scenario, settings);
        return await session.LoadAsync(label, spec, cancellationToken);
    }

    /// <summary>True (once) when <paramref name="server"/> was stopped from outside during a run, which is then repeated;
    /// the interrupted run stays in results.json, marked.</summary>
    public bool NeedsRepeat(ServerProcess server, int attempt)
    {
        if (!server.Interrupted)
        {
            return false;
        }

        Progress.Say($"the server (pid {server.Pid}) was stopped by another process during that run{(attempt == 1 ? "; repeating it on a new server" : "; not repeating it again")}.");
        return attempt == 1;
    }

    private JsonArray RunList(string scenario) => _runs.TryGetValue(scenario, out var runs) ? runs : _runs[scenario] = [];

    private static string Summary(LoadRun run)
    {
        if (!run.HasResult)
        {
            return "FAILED: " + run.Error;
        }

        var c = CultureInfo.InvariantCulture;
        var text = string.Create(c, $"{run.Throughput:0} answers/s, final p50 {Ms(run.FinalP50)} p99 {Ms(run.FinalP99)}, refused {run.Count("refused")}");
        return run.CountsAddUp ? text : text + ", COUNTS DO NOT ADD UP";

        string Ms(double? v) => v is { } x ? x.ToString("0.00", c) + " ms" : "-";
    }
}
