using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DfbNet.LoadBench.Processes;

/// <summary>Runs <c>dfbnet load</c> as a process, bounded by its spec's timeout, and reads the JSON it writes.</summary>
internal static class LoadProcess
{
    /// <param name="server">The server the run loads; null for an in-process run.</param>
    /// <param name="logPath">Where the process's output goes (its table on stdout, its progress on stderr).</param>
    public static async Task<LoadRun> RunAsync(BenchPaths paths, string label, LoadSpec spec, ServerProcess? server, string data, string jsonPath, string logPath, CancellationToken cancellationToken)
    {
        var arguments = spec.Arguments(server, data, jsonPath);
        var command = "dfbnet " + string.Join(' ', arguments.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"'{a}'" : a));
        var start = new ProcessStartInfo(paths.Cli)
        {
            WorkingDirectory = paths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        File.Delete(jsonPath);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new BenchException($"cannot start '{paths.Cli}'.");
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        string? error = null;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(spec.Timeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
                cancellationToken.ThrowIfCancellationRequested();
                error = $"dfbnet load did not finish within {spec.Timeout.TotalSeconds:0} s and was killed.";
            }
        }

        var output = await stdout;
        var progress = await stderr;
        await File.WriteAllTextAsync(logPath, $"# {command}\n# exit code {process.ExitCode}\n{output}\n{progress}", CancellationToken.None);

        JsonObject? result = null;
        if (File.Exists(jsonPath))
        {
            try
            {
                result = JsonNode.Parse(await File.ReadAllTextAsync(jsonPath, CancellationToken.None)) as JsonObject;
            }
            catch (JsonException ex)
            {
                error ??= $"its JSON does not parse: {ex.Message}";
            }
        }

        if (result is null)
        {
            var tail = string.Join('\n', progress.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(5));
            error ??= $"dfbnet load exited with code {process.ExitCode} without a result: {tail}";
        }

        return new LoadRun(label, command, process.ExitCode, clock.Elapsed.TotalSeconds, result, error);
    }
}
