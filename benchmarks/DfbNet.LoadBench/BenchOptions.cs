using System.Globalization;

namespace DfbNet.LoadBench;

/// <summary>
/// The command line of the benchmark, checked: a bad value is one line naming its option (exit code 2), never a stack
/// trace.
/// </summary>
internal sealed record BenchOptions
{
    public const string Usage = """
        dotnet run --project benchmarks/DfbNet.LoadBench -c Release -- --out DIR [--quick] [--scenarios a,b,...] [--data PATH] [--capacity RATE]

          --out DIR         where results.json, results.md, the plots and the logs go (created)
          --quick           short steps and fewer of them: checks that everything runs, not a measurement
          --scenarios LIST  any of capacity, overload, budget, quiet, presets, cpu, overhead (default: all, in that order)
          --data PATH       a CIFAR-10 binary batch (test_batch.bin) for the frames and accuracy (default: tests/data/cifar10-test-200.bin)
          --capacity RATE   the batching-on capacity at 16 streams (frames/s) that overload, budget, quiet and cpu scale by,
                            when the capacity scenario is not run (default: a short probe finds it)
          --plan            print the scenarios and the estimated run time, and run nothing

        Build first: dotnet build DfbNet.sln -c Release
        """;

    public required string OutputFolder { get; init; }

    public required bool Quick { get; init; }

    /// <summary>Print the plan and its estimate only.</summary>
    public bool PlanOnly { get; init; }

    public required IReadOnlyList<string> Scenarios { get; init; }

    public string? DataPath { get; init; }

    public double? Capacity { get; init; }

    /// <summary>Reads the arguments; null with a one-line <paramref name="error"/> when they are wrong, and null without
    /// one for <c>--help</c>.</summary>
    public static BenchOptions? Parse(IReadOnlyList<string> args, IReadOnlyList<string> known, out string? error)
    {
        error = null;
        string? output = null;
        string? data = null;
        double? capacity = null;
        var quick = false;
        var plan = false;
        IReadOnlyList<string> scenarios = known;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            switch (name)
            {
                case "--help" or "-h":
                    return null;
                case "--quick":
                    quick = true;
                    continue;
                case "--plan":
                    plan = true;
                    continue;
                case "--out" or "--scenarios" or "--data" or "--capacity":
                    break;
                default:
                    error = $"unknown argument '{name}' (see --help).";
                    return null;
            }

            if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                error = $"{name} needs a value (see --help).";
                return null;
            }

            var value = args[++i];
            switch (name)
            {
                case "--out":
                    output = value;
                    break;
                case "--data":
                    if (!File.Exists(value))
                    {
                        error = $"--data '{value}' does not exist (give a CIFAR-10 binary batch such as test_batch.bin).";
                        return null;
                    }

                    data = Path.GetFullPath(value);
                    break;
                case "--capacity":
                    if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) || !double.IsFinite(rate) || rate <= 0)
                    {
                        error = $"--capacity '{value}' is not a positive rate in frames/s.";
                        return null;
                    }

                    capacity = rate;
                    break;
                default:
                    var names = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                    if (names.FirstOrDefault(n => !known.Contains(n, StringComparer.Ordinal)) is { } unknown)
                    {
                        error = $"--scenarios: '{unknown}' is not one of {string.Join(", ", known)}.";
                        return null;
                    }

                    // Always in the canonical order: later scenarios scale by the capacity that the first one finds.
                    scenarios = [.. known.Where(names.Contains)];
                    if (scenarios.Count == 0)
                    {
                        error = "--scenarios is empty.";
                        return null;
                    }

                    break;
            }
        }

        if (output is null && !plan)
        {
            error = "--out DIR is required (see --help).";
            return null;
        }

        return new BenchOptions { OutputFolder = Path.GetFullPath(output ?? "loadbench-plan"), Quick = quick, PlanOnly = plan, Scenarios = scenarios, DataPath = data, Capacity = capacity };
    }
}
