using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using DfbNet.LoadBench;
using DfbNet.LoadBench.Reporting;
using DfbNet.LoadBench.Scenarios;

// dfbnet-loadbench: scheduling under load. Starts dfbnet-server with each scenario's settings on a free loopback port,
// runs dfbnet load against it (or in-process), reads the JSON, stops the server, and writes results.json, results.md
// and the plots. Exit codes: 0 every scenario ran; 1 one failed (its section says why); 2 bad arguments or nothing
// built; 130 interrupted (what was measured is written).
// plot-eval EVAL.json FOLDER: the accuracy plots of dfbnet eval --json (no server, no load).
if (args is ["plot-eval", var evalJson, var plotFolder])
{
    try
    {
        foreach (var file in EvalPlots.Write(evalJson, plotFolder))
        {
            Console.WriteLine(Path.Combine(plotFolder, file));
        }

        return 0;
    }
    catch (BenchException ex)
    {
        Console.Error.WriteLine($"dfbnet-loadbench: {ex.Message}");
        return 2;
    }
}

IScenario[] all =
[
    new CapacityScenario(),
    new OverloadScenario(),
    new BudgetScenario(),
    new QuietScenario(),
    new PresetsScenario(),
    new CpuScenario(),
    new OverheadScenario(),
];
var options = BenchOptions.Parse(args, [.. all.Select(s => s.Name)], out var error);
if (options is null)
{
    if (error is null)
    {
        Console.WriteLine(BenchOptions.Usage);
        return 0;
    }

    Console.Error.WriteLine($"dfbnet-loadbench: {error}");
    return 2;
}

var paths = BenchPaths.Find(Environment.CurrentDirectory, out error);
if (paths is null)
{
    Console.Error.WriteLine($"dfbnet-loadbench: {error}");
    return 2;
}

const int CifarRecord = 1 + 3072;
var data = options.DataPath ?? paths.DefaultData;
var size = File.Exists(data) ? new FileInfo(data).Length : 0;
if (size == 0 || size % CifarRecord != 0)
{
    Console.Error.WriteLine($"dfbnet-loadbench: '{data}' is not a CIFAR-10 binary batch (a whole number of {CifarRecord}-byte records); give --data.");
    return 2;
}

var progress = new BenchProgress(Console.Error);
var context = new BenchContext(paths, options, data, (int)(size / CifarRecord), progress);
var selected = all.Where(s => options.Scenarios.Contains(s.Name)).ToList();

// Scenarios that scale by the capacity find it with a probe when neither the capacity scenario nor --capacity gives it.
var probe = !options.Scenarios.Contains("capacity") && options.Capacity is null && selected.Any(s => s.Name is "overload" or "budget" or "quiet" or "cpu")
    ? TimeSpan.FromSeconds(CapacityScenario.ProbeSeconds)
    : TimeSpan.Zero;
var estimates = selected.Select(s => (s.Name, Time: s.Estimate(context))).ToList();
var estimate = estimates.Aggregate(probe, (total, e) => total + e.Time);
progress.Plan(estimate.TotalSeconds);
var c = CultureInfo.InvariantCulture;
progress.Say($"dfbnet-loadbench{(options.Quick ? " --quick" : "")}: {string.Join(", ", estimates.Select(e => $"{e.Name} {BenchProgress.Clock(e.Time)}"))}{(probe > TimeSpan.Zero ? $", capacity probe {BenchProgress.Clock(probe)}" : "")}");
progress.Say(string.Create(c, $"estimated run time: at most {BenchProgress.Clock(estimate)} (capacity sweeps stop past saturation, so usually less); frames {data} ({context.Images} images){(options.PlanOnly ? "" : "; output " + options.OutputFolder)}"));
if (options.PlanOnly)
{
    return 0;
}

context.CreateFolders();

var command = "dotnet run --project benchmarks/DfbNet.LoadBench -c Release -- " + string.Join(' ', args);
var writer = new ResultsWriter(context, command, MachineInfo.Read(paths.Root), estimate);
using var interrupt = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    interrupt.Cancel();
};
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
{
    signal.Cancel = true;
    interrupt.Cancel();
});

var reports = new List<ScenarioReport>();
var failed = 0;
foreach (var scenario in selected)
{
    progress.Say($"== {scenario.Name} (estimated {BenchProgress.Clock(scenario.Estimate(context))})");
    try
    {
        reports.Add(await scenario.RunAsync(context, interrupt.Token));
    }
    catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
    {
        progress.Say("dfbnet-loadbench: interrupted; the servers are stopped and what was measured is written.");
        writer.Write(reports, finished: false);
        return 130;
    }
    catch (BenchException ex)
    {
        failed++;
        progress.Say($"dfbnet-loadbench: {scenario.Name} failed: {ex.Message}");
        reports.Add(new ScenarioReport(scenario.Name, scenario.Name, $"FAILED: {ex.Message}\n", new JsonObject { ["error"] = ex.Message }, []));
    }

    writer.Write(reports, finished: false);
}

writer.Write(reports, finished: true);
progress.Say($"dfbnet-loadbench: done in {BenchProgress.Clock(progress.Elapsed)}: {Path.Combine(options.OutputFolder, "results.md")}");
return failed == 0 ? 0 : 1;
