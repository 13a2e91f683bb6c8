using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DfbNet.LoadBench.Scenarios;

namespace DfbNet.LoadBench.Reporting;

/// <summary>
/// results.json (the command, the machine, every run with its whole <c>dfbnet load</c> result, each scenario's key
/// figures) and results.md (the same as tables and plots). Each scenario's section of results.md sits between
/// <c>&lt;!-- loadbench:NAME --&gt;</c> and <c>&lt;!-- /loadbench:NAME --&gt;</c>, ready to paste into docs/BENCHMARKS.md.
/// Written after every scenario, so that an interrupted run keeps what it measured.
/// </summary>
internal sealed class ResultsWriter(BenchContext context, string command, MachineInfo machine, TimeSpan estimate)
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public void Write(IReadOnlyList<ScenarioReport> reports, bool finished)
    {
        var c = CultureInfo.InvariantCulture;
        var elapsed = context.Progress.Elapsed;
        var json = new JsonObject
        {
            ["command"] = command,
            ["quick"] = context.Quick,
            ["finished"] = finished,
            ["machine"] = machine.ToJson(),
            ["data"] = new JsonObject { ["path"] = context.Data, ["images"] = context.Images, ["format"] = "png" },
            ["estimateSeconds"] = Math.Round(estimate.TotalSeconds),
            ["elapsedSeconds"] = Math.Round(elapsed.TotalSeconds),
            ["referenceCapacity"] = new JsonObject
            {
                ["streams"] = BenchContext.ReferenceStreams,
                ["framesPerSecond"] = context.Capacity,
                ["p99AtCapacityMs"] = context.P99AtCapacity,
                ["source"] = context.CapacitySource,
            },
            ["scenarios"] = new JsonArray([.. reports.Select(r => (JsonNode)new JsonObject
            {
                ["name"] = r.Name,
                ["title"] = r.Title,
                ["summary"] = r.Summary.DeepClone(),
                ["plots"] = new JsonArray([.. r.Plots.Select(p => (JsonNode)p)]),
                ["runs"] = context.Runs(r.Name).DeepClone(),
            })]),
        };
        File.WriteAllText(Path.Combine(context.Options.OutputFolder, "results.json"), json.ToJsonString(Indented));

        var md = new StringBuilder();
        md.AppendLine("# Scheduling under load: dfbnet-loadbench results");
        md.AppendLine();
        md.Append(Markdown.Table(["", ""], new List<IReadOnlyList<string>>
        {
            new[] { "command", $"`{command}`" },
            new[] { "machine", $"{machine.Cores} cores (nproc), {machine.Cpu}, {machine.Memory}, {machine.Runtime}" },
            new[] { "date", machine.Date },
            new[] { "commit", machine.Commit },
            new[] { "frames", string.Create(c, $"{Path.GetFileName(context.Data)}, {context.Images} images, PNG, native protocol") },
            new[] { "run time", $"{BenchProgress.Clock(elapsed)} (estimated at most {BenchProgress.Clock(estimate)}){(finished ? "" : ", NOT FINISHED")}" },
            new[] { "reference capacity", context.Capacity is { } cap ? string.Create(c, $"{cap:0} frames/s at 16 streams, batching on, from {context.CapacitySource}") : "-" },
        }));
        md.AppendLine();
        md.AppendLine("The load generator runs on the same machine as the server and takes part of its CPU (see each run's clientCpu in results.json). Latencies run from each frame's scheduled send time; p99 is nearest rank over every frame of the window. Each run's command, log and JSON are in results.json, logs/ and runs/.");
        if (context.Quick)
        {
            md.AppendLine().AppendLine("**--quick: short steps, one run each. These figures check that the benchmark runs; they are not measurements.**");
        }

        foreach (var report in reports)
        {
            md.AppendLine();
            md.AppendLine(c, $"## {report.Title} (`{report.Name}`)");
            md.AppendLine();
            md.AppendLine(c, $"<!-- loadbench:{report.Name} -->");
            md.Append(report.Markdown);
            foreach (var plot in report.Plots)
            {
                md.AppendLine().AppendLine(c, $"![{plot}]({plot})");
            }

            md.AppendLine(c, $"<!-- /loadbench:{report.Name} -->");
        }

        File.WriteAllText(Path.Combine(context.Options.OutputFolder, "results.md"), md.ToString());
    }
}
