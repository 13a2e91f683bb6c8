using System.CommandLine;
using System.Globalization;
using DfbNet.Cli.Load;
using DfbNet.Client;
using DfbNet.Core.Manifest;
using DfbNet.Protocol.V1;
using DfbNet.Runtime;
using DfbNet.Runtime.Scheduling;
using DfbNet.Training.Data;
using Grpc.Core;
using Grpc.Net.Client;

namespace DfbNet.Cli.Commands;

/// <summary>
/// <c>dfbnet load</c>: an open-loop load generator. N streams send CIFAR-10 frames at scheduled times (fixed or Poisson
/// arrivals) whatever the server answers, for a fixed duration after a warm-up; the report gives rates, latency
/// percentiles from each frame's scheduled send time, exits, budget hits, refusals, drops, errors, accuracy and CPU,
/// and checks that every frame sent ended with exactly one final event. <c>--sweep</c> repeats the run over a ladder of
/// rates and reports the capacity. <c>--in-process MODEL_FOLDER</c> sends the frames to an engine in this process instead
/// of a server (<see cref="InProcessLoadProtocol"/>), so that the two runs compare what serving costs.
/// </summary>
/// <remarks>Exit codes: 0 the run completed and its counts add up; 1 the server failed or could not be reached, or a
/// frame had no final event or two; 2 bad arguments; 130 interrupted.</remarks>
internal static class LoadCommand
{
    public static Command Create()
    {
        // Numbers are taken as text and read by LoadOptions, so that a bad value gets one line naming it and exit code 2.
        Option<string?>[] options =
        [
            Text("--streams", "Concurrent streams."),
            Text("--fps", "Frames per second of each stream (the total is streams x fps)."),
            Text("--rate", "Total frames per second, spread evenly over the streams (instead of --fps)."),
            Text("--arrivals", "fixed (evenly spaced, streams staggered within a period) or poisson (exponential gaps, seeded)."),
            Text("--seed", "Seed of the Poisson arrivals; the same seed gives the same schedule."),
            Text("--duration", "Seconds measured."),
            Text("--warmup", "Seconds of load sent before the measured window and not counted."),
            Text("--drain-seconds", "After the schedule ends, seconds to wait for the last answers before frames without a final event are counted as violations."),
            Text("--budget-ms", "Per-frame latency budgets in milliseconds, cycled over each stream's frames: 10, or 0,10,50 (0: no budget of the frame's own)."),
            Text("--queue-policy", "What the server does when a stream's queue is full: queue or latest (default: the server's)."),
            Text("--protocol", "native (dfbnet.v1 ClassifyStream) or oip (Open Inference Protocol ModelStreamInfer)."),
            Text("--format", "How frames travel: png or jpeg (encoded once up front) or raw (RGB)."),
            Text("--data", $"A CIFAR-10 binary batch (.bin: 1 label byte + 3072 bytes of 32x32 RGB planes per record), or a folder with test_batch.bin (default: {LoadOptions.DefaultDataFile}, looked for from the working directory upwards)."),
            Text("--sweep", "START:STOP:STEPS: run each of STEPS total rates from START to STOP frames/s (geometric steps) for --duration, and report the capacity."),
            Text("--p99-bound-ms", "The final-event p99 a rate must stay under to count towards the sweep's capacity."),
            Text("--server-pid", "The server's process id (same machine): its CPU over the measured window, from /proc/PID/stat."),
            Text("--in-process", "A model folder (for example models/default) to run in this process instead of a server: the same frames, pacing and report, through the engine alone, so that a run against a server with the same flags shows what serving adds."),
            Text("--bad-share", "Soak: the share of frames (0 to 0.5, seeded) replaced by bad inputs, cycled over: a JPEG cut short, bytes that are no image, an empty image, a raw frame of the wrong size, a PNG at the server's pixel limit. Reported by kind; with --server-pid the server's RSS at the start, the end and its peak."),
            Text("--json", "Also write the full result (or, with --sweep, every step and the capacity) as JSON to this file."),
        ];
        var alwaysAnswer = new Option<bool>("--always-answer") { Description = "With a budget: ask the server to run exit 1 even when the budget cannot be met (a late answer rather than none)." };
        var server = new ServerCallOptions(budget: false);
        var command = new Command("load", "Open-loop load generator: streams of CIFAR-10 frames sent on a schedule whatever the answers; throughput, latency percentiles, budget hits, refusals; --sweep finds the capacity.");
        foreach (var option in options)
        {
            command.Options.Add(option);
        }

        command.Options.Add(alwaysAnswer);
        server.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var client = server.Resolve(parse, out var error);
            var values = options.ToDictionary(o => o.Name, o => parse.GetValue(o), StringComparer.Ordinal);
            var load = client is null ? null : LoadOptions.Parse(values, parse.GetValue(alwaysAnswer), Environment.CurrentDirectory, out error);
            FrameSet? frames = null;
            if (load is not null)
            {
                try
                {
                    frames = FrameSet.Load(load.DataPath, load.Format);
                    if (load.BadShare > 0)
                    {
                        frames = frames.WithBadInputs();
                    }
                }
                catch (DatasetException ex)
                {
                    error = $"--data: {ex.Message}";
                }
            }

            if (client is null || load is null || frames is null)
            {
                await Console.Error.WriteLineAsync($"dfbnet load: {error}");
                return 2;
            }

            return load.InProcessModel is { } folder
                ? await RunInProcessAsync(folder, client, load, frames, cancellationToken)
                : await RunAgainstServerAsync(client, load, frames, cancellationToken);
        });
        return command;

        static Option<string?> Text(string name, string description) => new(name)
        {
            Description = description,
            DefaultValueFactory = LoadOptions.Defaults.TryGetValue(name, out var value) ? _ => value : null,
        };
    }

    private static async Task<int> RunAgainstServerAsync(DfbNetClientOptions client, LoadOptions load, FrameSet frames, CancellationToken cancellationToken)
    {
        // The SDK's channel (its TLS settings too), which opens more HTTP/2 connections as streams share one's window.
        using var channel = DfbNetClient.CreateChannel(client);
        var headers = DfbNetClient.CreateCallHeaders(client);

        ModelInfo info;
        try
        {
            // One unary call first: an unreachable server or an unknown model is one clear line, not N failed streams.
            var native = new Protocol.V1.DfbNet.DfbNetClient(channel);
            info = await native.GetModelInfoAsync(new GetModelInfoRequest { Model = client.Model ?? "" }, new CallOptions(headers, DateTime.UtcNow.AddSeconds(15), cancellationToken));
        }
        catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"dfbnet load: {ServerCallOptions.Describe(ex, client.Address)}");
            return 1;
        }

        var settings = new LoadCallSettings(info.Name, client.Mode, client.Preset, load.QueuePolicy, load.AlwaysAnswer, headers);
        ILoadProtocol protocol = load.Protocol == LoadProtocol.Oip
            ? new OipLoadProtocol(channel, settings, frames)
            : new NativeLoadProtocol(channel, settings, frames);
        var mode = client.Mode switch
        {
            InferenceMode.FirstExit => "first-exit",
            InferenceMode.Refine => "refine",
            InferenceMode.Full => "full",
            _ => "server default",
        };
        var runner = new LoadRunner(protocol, frames, load, client.Address.ToString(), info.Name, mode, Console.Error, new ServerStatistics(channel, info.Name));
        try
        {
            return await RunAsync(runner, load, cancellationToken);
        }
        catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Opening a stream failed (the server went away after answering GetModelInfo); failures of open
            // streams are counted in the report instead.
            await Console.Error.WriteLineAsync($"dfbnet load: {ServerCallOptions.Describe(ex, client.Address)}");
            return 1;
        }
    }

    /// <summary><c>--in-process</c>: the frames go through an engine in this process, loaded with the server's default
    /// engine settings (one intra-op thread per session, no spinning, the default scheduler) and warmed up as the server
    /// warms its models, so that only the serving differs.</summary>
    private static async Task<int> RunInProcessAsync(string folder, DfbNetClientOptions client, LoadOptions load, FrameSet frames, CancellationToken cancellationToken)
    {
        EarlyExitEngine engine;
        try
        {
            engine = EarlyExitEngine.Load(folder, new EngineOptions { IntraOpThreads = 1, AllowSpinning = false, Scheduler = new SchedulerOptions() });
        }
        catch (ManifestException ex)
        {
            await Console.Error.WriteLineAsync($"dfbnet load: --in-process '{folder}': {ex.Message}");
            return 2;
        }

        using (engine)
        {
            Core.ExitPolicy policy;
            try
            {
                policy = engine.ResolvePolicy(client.Preset, null);
            }
            catch (ArgumentException ex)
            {
                await Console.Error.WriteLineAsync($"dfbnet load: --preset '{client.Preset}': {ex.Message}");
                return 2;
            }

            await engine.WarmUpFramesAsync(cancellationToken: cancellationToken);

            // The server's default mode (DfbNet:DefaultMode) where none is given.
            var (mode, modeName) = client.Mode switch
            {
                InferenceMode.Refine => (Core.InferenceMode.Refine, "refine"),
                InferenceMode.Full => (Core.InferenceMode.Full, "full"),
                _ => (Core.InferenceMode.FirstExit, "first-exit"),
            };
            var protocol = new InProcessLoadProtocol(engine, frames, policy, mode, load.AlwaysAnswer);
            var runner = new LoadRunner(protocol, frames, load, "in-process " + engine.Folder, engine.Name, modeName, Console.Error, new EngineBatchStatistics(engine));
            return await RunAsync(runner, load, cancellationToken);
        }
    }

    /// <summary>The run or the sweep: the table on stdout, the JSON with --json; 0 when every frame's counts add up.</summary>
    private static async Task<int> RunAsync(LoadRunner runner, LoadOptions load, CancellationToken cancellationToken)
    {
        try
        {
            if (load.Sweep is { } sweep)
            {
                var steps = new List<LoadResult>();
                foreach (var rate in sweep.Rates)
                {
                    await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"dfbnet load: {rate:0.0} frames/s offered"));
                    steps.Add(await runner.RunAsync(rate, cancellationToken));
                }

                var result = new SweepResult(load.P99BoundMs, RateSweep.Scale, RateSweep.Capacity(steps, load.P99BoundMs), steps);
                Console.Write(LoadReport.SweepTable(result));
                if (load.JsonPath is { } path)
                {
                    await LoadReport.WriteJsonAsync(path, result, cancellationToken);
                }

                return steps.All(s => s.CountsAddUp) ? 0 : 1;
            }

            var single = await runner.RunAsync(load.TotalRate!.Value, cancellationToken);
            Console.Write(LoadReport.Table(single));
            if (load.JsonPath is { } file)
            {
                await LoadReport.WriteJsonAsync(file, single, cancellationToken);
            }

            return single.CountsAddUp ? 0 : 1;
        }
        catch (IOException ex)
        {
            await Console.Error.WriteLineAsync($"dfbnet load: --json '{load.JsonPath}': {ex.Message}");
            return 1;
        }
    }
}
