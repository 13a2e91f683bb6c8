using System.CommandLine;
using DfbNet.Client;
using Grpc.Core;
using Inference = DfbNet.Protocol.Inference;

namespace DfbNet.Cli.Commands;

/// <summary><c>dfbnet models</c>: the server's model repository through Triton's repository API: list the models and
/// versions on disk with their states, load (or reload) and unload.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var command = new Command("models", "List, load, reload and unload the models of a DfbNet server (its model repository).");
        command.Subcommands.Add(List());
        command.Subcommands.Add(Load());
        command.Subcommands.Add(Unload());
        return command;
    }

    private static Command List()
    {
        var ready = new Option<bool>("--ready") { Description = "Only versions that are serving." };
        var server = new ServerCallOptions(callSettings: false);
        var command = new Command("list", "Every model version in the server's repository: NAME, VERSION, STATE (READY, LOADING, UNAVAILABLE, UNLOADING) and why.") { ready };
        server.AddTo(command);
        command.SetAction((parse, cancellationToken) => CallAsync(parse, server, "list", async (oip, headers, deadline) =>
        {
            var index = await oip.RepositoryIndexAsync(new Inference.RepositoryIndexRequest { Ready = parse.GetValue(ready) }, new CallOptions(headers, deadline, cancellationToken));
            var rows = index.Models.Select(m => new[] { m.Name, m.Version, m.State, m.Reason }).Prepend(["NAME", "VERSION", "STATE", "REASON"]).ToList();
            var widths = Enumerable.Range(0, 3).Select(c => rows.Max(r => r[c].Length)).ToArray();
            foreach (var row in rows)
            {
                Console.WriteLine($"{row[0].PadRight(widths[0])}  {row[1].PadRight(widths[1])}  {row[2].PadRight(widths[2])}  {row[3]}".TrimEnd());
            }
        }, cancellationToken));
        return command;
    }

    private static Command Load()
    {
        var name = new Argument<string>("name") { Description = "The model (its folder under the model root)." };
        var version = new Option<long?>("--version") { Description = "The version folder to load (default: the highest)." };
        var server = new ServerCallOptions(callSettings: false);
        var command = new Command("load", "Load a model, or reload it: new frames go to the loaded version, frames already taken finish on the old one. A version that fails to load is refused and the old one keeps serving.") { name, version };
        server.AddTo(command);
        command.SetAction((parse, cancellationToken) => CallAsync(parse, server, "load", async (oip, headers, deadline) =>
        {
            var request = new Inference.RepositoryModelLoadRequest { ModelName = parse.GetValue(name)! };
            if (parse.GetValue(version) is { } v)
            {
                request.Parameters["version"] = new Inference.ModelRepositoryParameter { Int64Param = v };
            }

            await oip.RepositoryModelLoadAsync(request, new CallOptions(headers, deadline, cancellationToken));
            var metadata = await oip.ModelMetadataAsync(new Inference.ModelMetadataRequest { Name = request.ModelName }, new CallOptions(headers, deadline, cancellationToken));
            Console.WriteLine($"{request.ModelName}: version {string.Join(", ", metadata.Versions)} is serving");
        }, cancellationToken));
        return command;
    }

    private static Command Unload()
    {
        var name = new Argument<string>("name") { Description = "The model to stop serving." };
        var server = new ServerCallOptions(callSettings: false);
        var command = new Command("unload", "Stop serving a model: new frames for it are refused (NOT_FOUND), frames already taken finish first.") { name };
        server.AddTo(command);
        command.SetAction((parse, cancellationToken) => CallAsync(parse, server, "unload", async (oip, headers, deadline) =>
        {
            await oip.RepositoryModelUnloadAsync(new Inference.RepositoryModelUnloadRequest { ModelName = parse.GetValue(name)! }, new CallOptions(headers, deadline, cancellationToken));
            Console.WriteLine($"{parse.GetValue(name)}: unloaded");
        }, cancellationToken));
        return command;
    }

    /// <summary>Runs one repository call on the SDK's channel: exit 0, or one line and 2 (bad options) or 1 (the server refused).</summary>
    private static async Task<int> CallAsync(ParseResult parse, ServerCallOptions server, string verb, Func<Inference.GRPCInferenceService.GRPCInferenceServiceClient, Metadata, DateTime, Task> call, CancellationToken cancellationToken)
    {
        var options = server.Resolve(parse, out var error);
        if (options is null)
        {
            await Console.Error.WriteLineAsync($"dfbnet models {verb}: {error}");
            return 2;
        }

        using var channel = DfbNetClient.CreateChannel(options);
        var headers = DfbNetClient.CreateCallHeaders(options);

        try
        {
            // Loading a model reads its files and warms it up: seconds, more on a GPU building TensorRT engines.
            await call(new Inference.GRPCInferenceService.GRPCInferenceServiceClient(channel), headers, DateTime.UtcNow.AddMinutes(10));
            return 0;
        }
        catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"dfbnet models {verb}: {ServerCallOptions.Describe(ex, options.Address)}");
            return 1;
        }
    }
}
