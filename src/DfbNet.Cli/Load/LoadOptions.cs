using System.Globalization;
using DfbNet.Protocol.V1;
using DfbNet.Training.Data;

namespace DfbNet.Cli.Load;

/// <summary>The API a load run speaks.</summary>
internal enum LoadProtocol
{
    /// <summary><c>dfbnet.v1.DfbNet/ClassifyStream</c>.</summary>
    Native,

    /// <summary><c>inference.GRPCInferenceService/ModelStreamInfer</c> (Open Inference Protocol, Triton's streaming).</summary>
    Oip,
}

/// <summary>How a stream's frames are spaced in time.</summary>
internal enum ArrivalProcess
{
    /// <summary>Evenly, 1/f apart.</summary>
    Fixed,

    /// <summary>A Poisson process: exponential gaps of mean 1/f, seeded.</summary>
    Poisson,
}

/// <summary>How frames travel: encoded once up front, or as raw RGB.</summary>
internal enum FrameFormat
{
    Png,
    Jpeg,
    Raw,
}

/// <summary>
/// The settings of <c>dfbnet load</c>, checked. Numbers arrive as text and are read here, with the invariant culture, so
/// that a bad value is one line naming its option (exit code 2) rather than System.CommandLine's usage screen.
/// </summary>
internal sealed record LoadOptions
{
    /// <summary>The most frames one run may schedule: every frame is kept for exact percentiles, so memory is bounded by this.</summary>
    public const long MaxFramesPerRun = 2_000_000;

    /// <summary>The CIFAR-10 batch found from the working directory upwards when <c>--data</c> is not given.</summary>
    public const string DefaultDataFile = "tests/data/cifar10-test-200.bin";

    /// <summary>The text of options not given; the command shows them as its defaults.</summary>
    public static readonly IReadOnlyDictionary<string, string> Defaults = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--streams"] = "1",
        ["--arrivals"] = "fixed",
        ["--seed"] = "1",
        ["--duration"] = "10",
        ["--warmup"] = "1",
        ["--drain-seconds"] = "5",
        ["--budget-ms"] = "0",
        ["--protocol"] = "native",
        ["--format"] = "png",
        ["--p99-bound-ms"] = "50",
        ["--bad-share"] = "0",
    };

    public required int Streams { get; init; }

    /// <summary>Total offered frames per second, over all streams; null in a sweep (each step sets its own).</summary>
    public double? TotalRate { get; init; }

    public RateSweep? Sweep { get; init; }

    public required ArrivalProcess Arrivals { get; init; }

    public required int Seed { get; init; }

    public required TimeSpan Duration { get; init; }

    public required TimeSpan Warmup { get; init; }

    public required TimeSpan Drain { get; init; }

    /// <summary>Per-frame budgets in milliseconds, cycled over each stream's frames; 0 is no budget of the frame's own.</summary>
    public required IReadOnlyList<double> BudgetsMs { get; init; }

    public required LoadProtocol Protocol { get; init; }

    public required FrameFormat Format { get; init; }

    public required QueuePolicy QueuePolicy { get; init; }

    public required bool AlwaysAnswer { get; init; }

    public required string DataPath { get; init; }

    public int? ServerPid { get; init; }

    /// <summary>A model folder whose engine runs in this process instead of a server (<c>--in-process</c>); null for a server.</summary>
    public string? InProcessModel { get; init; }

    public string? JsonPath { get; init; }

    public required double P99BoundMs { get; init; }

    /// <summary>The share of frames replaced by bad inputs (a soak: <see cref="FrameSet.WithBadInputs"/>), 0 for none.</summary>
    public double BadShare { get; init; }

    /// <summary>Reads the options from their text (keyed by option name, null where not given).</summary>
    /// <param name="values">Option name (<c>--fps</c>) to its text.</param>
    /// <param name="alwaysAnswer">The <c>--always-answer</c> flag.</param>
    /// <param name="workingDirectory">Where the default data file is looked for, upwards.</param>
    /// <param name="error">A one-line message naming the bad option, when the result is null.</param>
    public static LoadOptions? Parse(IReadOnlyDictionary<string, string?> values, bool alwaysAnswer, string workingDirectory, out string? error)
    {
        var read = new Reader(values);
        var streams = read.Integer("--streams", 1, 10_000);
        var fps = read.OptionalNumber("--fps", positive: true);
        var rate = read.OptionalNumber("--rate", positive: true);
        RateSweep? sweep = null;
        if (read.Text("--sweep") is { } sweepText && read.Check(RateSweep.TryParse(sweepText, out var parsed, out var sweepError), sweepError))
        {
            sweep = parsed;
        }

        var arrivals = read.Choice("--arrivals", ["fixed", "poisson"]) == "poisson" ? ArrivalProcess.Poisson : ArrivalProcess.Fixed;
        var seed = read.Integer("--seed", int.MinValue, int.MaxValue);
        var duration = read.Seconds("--duration", positive: true, max: 3600);
        var warmup = read.Seconds("--warmup", positive: false, max: 600);
        var drain = read.Seconds("--drain-seconds", positive: false, max: 600);
        var budgets = read.Budgets("--budget-ms");
        var protocol = read.Choice("--protocol", ["native", "oip"]) == "oip" ? LoadProtocol.Oip : LoadProtocol.Native;
        var format = read.Choice("--format", ["png", "jpeg", "raw"]) switch
        {
            "jpeg" => FrameFormat.Jpeg,
            "raw" => FrameFormat.Raw,
            _ => FrameFormat.Png,
        };
        var queuePolicy = read.Text("--queue-policy") is null
            ? QueuePolicy.Unspecified
            : read.Choice("--queue-policy", ["queue", "latest"]) == "latest" ? QueuePolicy.Latest : QueuePolicy.Queue;
        var bound = read.OptionalNumber("--p99-bound-ms", positive: true) ?? 50;
        var badShare = read.OptionalNumber("--bad-share", positive: false) ?? 0;
        read.Check(badShare <= 0.5, string.Create(CultureInfo.InvariantCulture, $"--bad-share {badShare} must be between 0 and 0.5 (the share of frames replaced by bad inputs)."));
        int? pid = read.Text("--server-pid") is null ? null : read.Integer("--server-pid", 1, int.MaxValue);
        var json = read.Text("--json");
        var data = read.Text("--data");
        var inProcess = read.Text("--in-process");

        if (read.Error is null)
        {
            read.Check(!(fps is not null && rate is not null), "give --fps (per stream) or --rate (total over all streams), not both.");
            read.Check(sweep is null || (fps is null && rate is null), "--sweep sets the total rate of each step; drop --fps and --rate.");
            read.Check(sweep is not null || fps is not null || rate is not null, "--fps (per stream) or --rate (total frames/s) is required, or --sweep START:STOP:STEPS.");
        }

        double? total = fps is { } f ? f * streams : rate;
        var highest = sweep?.Rates.Max() ?? total ?? 0;
        if (read.Error is null)
        {
            var frames = highest * (warmup + duration).TotalSeconds;
            read.Check(frames <= MaxFramesPerRun, string.Create(CultureInfo.InvariantCulture, $"--duration {duration.TotalSeconds} s (and --warmup {warmup.TotalSeconds} s) at {highest:0.###} frames/s schedule {frames:0} frames; at most {MaxFramesPerRun:N0} per run."));
        }

        if (read.Error is null && pid is { } p)
        {
            read.Check(ProcessCpu.TryReadProcessCpu(p, out _, out var pidError), $"--server-pid {p}: {pidError}");
        }

        if (read.Error is null && json is not null)
        {
            var folder = Path.GetDirectoryName(Path.GetFullPath(json));
            read.Check(folder is null || Directory.Exists(folder), $"--json '{json}': folder '{folder}' does not exist.");
        }

        if (read.Error is null && inProcess is not null)
        {
            read.Check(File.Exists(Path.Combine(inProcess, Core.Manifest.ModelManifest.FileName)), $"--in-process '{inProcess}' is not a model folder (it holds no {Core.Manifest.ModelManifest.FileName}).");
            read.Check(protocol == LoadProtocol.Native, "--in-process runs the engine in this process, without a protocol; drop --protocol oip.");
            read.Check(queuePolicy != QueuePolicy.Latest, "--in-process streams queue their frames (the server's default policy); --queue-policy latest needs a server.");
            read.Check(pid is null, "--in-process runs the engine in this process, whose CPU is the generator's (clientCpu); drop --server-pid.");
        }

        string? dataPath = null;
        if (read.Error is null && data is not null)
        {
            dataPath = ResolveData(data, out var dataError);
            read.Check(dataPath is not null, dataError);
        }
        else if (read.Error is null)
        {
            dataPath = FindDefaultData(workingDirectory);
            read.Check(dataPath is not null, $"--data is needed: no {DefaultDataFile} was found above '{workingDirectory}'. Pass --data PATH to a CIFAR-10 binary batch (test_batch.bin of the \"CIFAR-10 binary version\" from https://www.cs.toronto.edu/~kriz/cifar.html).");
        }

        error = read.Error;
        if (error is not null)
        {
            return null;
        }

        return new LoadOptions
        {
            Streams = streams,
            TotalRate = total,
            Sweep = sweep,
            Arrivals = arrivals,
            Seed = seed,
            Duration = duration,
            Warmup = warmup,
            Drain = drain,
            BudgetsMs = budgets,
            Protocol = protocol,
            Format = format,
            QueuePolicy = queuePolicy,
            AlwaysAnswer = alwaysAnswer,
            DataPath = dataPath!,
            ServerPid = pid,
            InProcessModel = inProcess,
            JsonPath = json,
            P99BoundMs = bound,
            BadShare = badShare,
        };

        string? ResolveData(string path, out string? problem)
        {
            // A folder is accepted as CIFAR-10 unpacks: test_batch.bin in it, in cifar-10/ or in cifar-10-batches-bin/.
            if (Directory.Exists(path))
            {
                var found = CifarReader.Cifar10Folders.Select(d => Path.Combine(path, d, CifarReader.TestFile)).FirstOrDefault(File.Exists);
                problem = found is null ? $"--data '{path}' is a folder without test_batch.bin (nor cifar-10/ or cifar-10-batches-bin/test_batch.bin)." : null;
                return found;
            }

            problem = File.Exists(path) ? null : $"--data '{path}' does not exist.";
            return problem is null ? path : null;
        }
    }

    /// <summary><see cref="DefaultDataFile"/> in <paramref name="directory"/> or a folder above it, or null.</summary>
    public static string? FindDefaultData(string directory)
    {
        for (var dir = new DirectoryInfo(directory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, DefaultDataFile);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Reads option text into values; keeps the first problem, after which every read returns a harmless default.</summary>
    private sealed class Reader(IReadOnlyDictionary<string, string?> values)
    {
        public string? Error { get; private set; }

        public string? Text(string name) =>
            values.TryGetValue(name, out var v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : Defaults.GetValueOrDefault(name);

        public bool Check(bool condition, string? message)
        {
            if (!condition && Error is null)
            {
                Error = message;
            }

            return condition;
        }

        public int Integer(string name, int min, int max)
        {
            var text = Text(name);
            var ok = int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max;
            var range = min == int.MinValue ? "an integer" : max == int.MaxValue ? $"an integer of at least {min}" : $"an integer from {min} to {max}";
            return Check(ok, $"{name} '{text}' is not {range}.") ? value : Math.Max(min, 1);
        }

        public double? OptionalNumber(string name, bool positive)
        {
            if (Text(name) is not { } text)
            {
                return null;
            }

            var ok = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value) && (positive ? value > 0 : value >= 0);
            return Check(ok, $"{name} '{text}' is not a {(positive ? "positive" : "non-negative")} number.") ? value : 1;
        }

        public TimeSpan Seconds(string name, bool positive, double max)
        {
            var value = OptionalNumber(name, positive) ?? 1;
            Check(value <= max, string.Create(CultureInfo.InvariantCulture, $"{name} {value} is more than {max} seconds."));
            return TimeSpan.FromSeconds(Math.Min(value, max));
        }

        public string Choice(string name, string[] choices)
        {
            var text = Text(name)?.ToLowerInvariant();
            Check(text is not null && choices.Contains(text), $"{name} '{Text(name)}' is not one of {string.Join(", ", choices)}.");
            return text ?? choices[0];
        }

        public List<double> Budgets(string name)
        {
            var text = Text(name) ?? "0";
            var budgets = new List<double>();
            foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
            {
                var ok = double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) && double.IsFinite(ms) && ms >= 0;
                if (!Check(ok, $"{name} '{text}': '{part}' is not a non-negative number of milliseconds (give a list like 0,10,50)."))
                {
                    return [0];
                }

                budgets.Add(ms);
            }

            return budgets;
        }
    }
}
