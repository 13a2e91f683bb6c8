using System.Globalization;

namespace DfbNet.LoadBench.Processes;

/// <summary>One <c>dfbnet load</c> run: how many streams at what total rate, for how long, with which frame options.</summary>
internal sealed record LoadSpec
{
    public required int Streams { get; init; }

    /// <summary>Total offered frames per second over all streams.</summary>
    public required double Rate { get; init; }

    public required double WarmupSeconds { get; init; }

    public required double DurationSeconds { get; init; }

    public double DrainSeconds { get; init; } = 3;

    /// <summary><c>--budget-ms</c>, or null for none.</summary>
    public string? BudgetMs { get; init; }

    public string? Preset { get; init; }

    public string? Mode { get; init; }

    /// <summary>A model folder to run in the dfbnet process instead of a server (<c>--in-process</c>).</summary>
    public string? InProcessModel { get; init; }

    /// <summary>Seconds the process should take at most: its schedule, its drain, and start-up and encoding to spare.</summary>
    public TimeSpan Timeout => TimeSpan.FromSeconds(WarmupSeconds + DurationSeconds + DrainSeconds + 60);

    /// <summary>The arguments after <c>dfbnet</c>; <paramref name="server"/> is null for an in-process run.</summary>
    public IReadOnlyList<string> Arguments(ServerProcess? server, string data, string json)
    {
        var c = CultureInfo.InvariantCulture;
        var args = new List<string> { "load" };
        if (InProcessModel is { } model)
        {
            args.AddRange(["--in-process", model]);
        }
        else if (server is not null)
        {
            args.AddRange(["--server", server.Address, "--server-pid", server.Pid.ToString(c)]);
        }

        args.AddRange([
            "--streams", Streams.ToString(c),
            "--rate", Rate.ToString("0.###", c),
            "--warmup", WarmupSeconds.ToString("0.###", c),
            "--duration", DurationSeconds.ToString("0.###", c),
            "--drain-seconds", DrainSeconds.ToString("0.###", c),
            "--data", data,
            "--json", json,
        ]);
        if (BudgetMs is { } budget)
        {
            args.AddRange(["--budget-ms", budget]);
        }

        if (Preset is { } preset)
        {
            args.AddRange(["--preset", preset]);
        }

        if (Mode is { } mode)
        {
            args.AddRange(["--mode", mode]);
        }

        return args;
    }
}
