using System.Text.Json.Nodes;

namespace DfbNet.LoadBench.Scenarios;

/// <summary>One question the benchmark answers, with the runs it needs to answer it.</summary>
internal interface IScenario
{
    /// <summary>The name on the command line (<c>--scenarios</c>) and of its section in results.md.</summary>
    string Name { get; }

    /// <summary>An upper estimate of its run time (sweeps that stop early past saturation take less).</summary>
    TimeSpan Estimate(BenchContext context);

    Task<ScenarioReport> RunAsync(BenchContext context, CancellationToken cancellationToken);
}

/// <summary>What a scenario found: its section of results.md (tables and notes), its key figures for results.json, and
/// the plots it drew (file names in the output folder).</summary>
internal sealed record ScenarioReport(string Name, string Title, string Markdown, JsonObject Summary, IReadOnlyList<string> Plots);
