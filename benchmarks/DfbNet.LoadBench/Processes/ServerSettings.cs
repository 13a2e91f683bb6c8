using System.Globalization;

namespace DfbNet.LoadBench.Processes;

/// <summary>The <c>DfbNet:*</c> settings a server runs with (the rest at their defaults), and a short name for tables.</summary>
internal sealed record ServerSettings(string Name, IReadOnlyDictionary<string, string> Options)
{
    /// <summary>The server's defaults.</summary>
    public static readonly ServerSettings Defaults = new("defaults", new Dictionary<string, string>());

    /// <summary>Batching on (the default, 8) or off (1).</summary>
    public static ServerSettings Batching(bool on) => new(on ? "batching on" : "batching off", new Dictionary<string, string> { ["MaxBatchSize"] = on ? "8" : "1" });

    /// <summary>Approximately the defaults before the scheduler: ONNX Runtime's own thread pool on every core, spinning,
    /// one executor, no batching.</summary>
    public static readonly ServerSettings Before = new("before", new Dictionary<string, string>
    {
        ["IntraOpThreads"] = "0",
        ["AllowSpinning"] = "true",
        ["Executors"] = "1",
        ["MaxBatchSize"] = "1",
    });

    /// <summary><c>--DfbNet:Key=value</c> arguments.</summary>
    public IEnumerable<string> Arguments => Options.Select(o => string.Create(CultureInfo.InvariantCulture, $"--DfbNet:{o.Key}={o.Value}"));

    /// <summary>"MaxBatchSize=1, ..." or "defaults".</summary>
    public string Describe() => Options.Count == 0 ? "defaults" : string.Join(", ", Options.Select(o => $"{o.Key}={o.Value}"));
}
