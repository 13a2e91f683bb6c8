using System.CommandLine;
using DfbNet.Client;
using DfbNet.Protocol.V1;
using Grpc.Core;

namespace DfbNet.Cli.Commands;

/// <summary>The options that <c>classify</c>, <c>stream</c> and <c>load</c> share: which server, and the model, mode, preset and budget of the calls.</summary>
/// <param name="budget">Add <c>--budget-ms</c> as one number; <c>load</c> passes false and defines its own (a list of budgets).</param>
/// <param name="callSettings">Add <c>--model</c>, <c>--mode</c>, <c>--preset</c> (and the budget); <c>models</c> passes false:
/// it only needs the connection (server, key, certificates).</param>
internal sealed class ServerCallOptions(bool budget = true, bool callSettings = true)
{
    public const string ServerEnvironmentVariable = "DFBNET_SERVER";

    private readonly Option<string> _server = new("--server")
    {
        Description = $"The DfbNet server (default: ${ServerEnvironmentVariable}, else http://localhost:50051).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable(ServerEnvironmentVariable) is { Length: > 0 } env ? env : "http://localhost:50051",
    };

    private readonly Option<string?> _model = new("--model") { Description = "Model name (default: the server's default model)." };

    private readonly Option<string?> _mode = new("--mode") { Description = "Inference mode: first-exit, refine or full (default: the server's)." };

    private readonly Option<string?> _preset = new("--preset") { Description = "Threshold preset of the model (for example fast, balanced, accurate)." };

    private readonly Option<double?> _budget = new("--budget-ms") { Description = "Per-frame latency budget in milliseconds." };

    private readonly Option<string?> _apiKey = new("--api-key") { Description = "API key, sent as 'authorization: Bearer <key>' (default: $DFBNET_API_KEY)." };

    private readonly Option<string?> _ca = new("--ca") { Description = "https:// only: PEM file of the CA that issued the server's certificate, trusted instead of the system's store (default: $DFBNET_CA_CERT)." };

    private readonly Option<string?> _cert = new("--cert") { Description = "https:// only: PEM client certificate for mutual TLS (default: $DFBNET_CLIENT_CERT)." };

    private readonly Option<string?> _key = new("--key") { Description = "PEM private key of --cert, when not in the same file (default: $DFBNET_CLIENT_KEY)." };

    public void AddTo(Command command)
    {
        command.Options.Add(_server);
        if (callSettings)
        {
            command.Options.Add(_model);
            command.Options.Add(_mode);
            command.Options.Add(_preset);
        }

        if (budget && callSettings)
        {
            command.Options.Add(_budget);
        }

        command.Options.Add(_apiKey);
        command.Options.Add(_ca);
        command.Options.Add(_cert);
        command.Options.Add(_key);
    }

    /// <summary>Client options from the parsed command line, or an error message naming the bad option.</summary>
    public DfbNetClientOptions? Resolve(ParseResult parse, out string? error)
    {
        error = null;
        var server = parse.GetValue(_server)!;
        if (!server.Contains("://", StringComparison.Ordinal))
        {
            server = "http://" + server;
        }

        if (!Uri.TryCreate(server, UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https"))
        {
            error = $"--server '{parse.GetValue(_server)}' is not an http:// or https:// address.";
            return null;
        }

        var mode = InferenceMode.Unspecified;
        if (!string.IsNullOrWhiteSpace(parse.GetValue(_mode)))
        {
            if (!Core.SettingText.TryParseMode(parse.GetValue(_mode), out var parsed))
            {
                error = $"--mode '{parse.GetValue(_mode)}' is not one of {Core.SettingText.ModeNames}.";
                return null;
            }

            mode = parsed switch
            {
                Core.InferenceMode.Refine => InferenceMode.Refine,
                Core.InferenceMode.Full => InferenceMode.Full,
                _ => InferenceMode.FirstExit,
            };
        }

        var milliseconds = budget && callSettings ? parse.GetValue(_budget) : null;
        if (milliseconds is { } ms && (ms < 0 || !double.IsFinite(ms)))
        {
            error = $"--budget-ms {ms} is not a non-negative number of milliseconds.";
            return null;
        }

        var ca = FileOption(parse, _ca, "DFBNET_CA_CERT", address, ref error);
        var cert = FileOption(parse, _cert, "DFBNET_CLIENT_CERT", address, ref error);
        var key = FileOption(parse, _key, "DFBNET_CLIENT_KEY", address, ref error);
        if (error is null && key is not null && cert is null)
        {
            error = "--key is set without --cert.";
        }

        if (error is not null)
        {
            return null;
        }

        var options = new DfbNetClientOptions
        {
            Address = address,
            Model = parse.GetValue(_model),
            Mode = mode,
            Preset = parse.GetValue(_preset),
            Budget = milliseconds is { } b && b > 0 ? TimeSpan.FromMilliseconds(b) : null,
            ApiKey = parse.GetValue(_apiKey) ?? (Environment.GetEnvironmentVariable(DfbNetClientOptions.ApiKeyEnvironmentVariable) is { Length: > 0 } apiKey ? apiKey : null),
            CaCertificateFile = ca,
            ClientCertificateFile = cert,
            ClientKeyFile = key,

            // A command line user wants a quick answer when the server is down, not a long wait.
            MaxRetries = 2,
            MaxStreamReconnects = 3,
        };

        if (ca is not null || cert is not null)
        {
            // Load the certificates now: a file that is not PEM is one line naming it, not a failure at the first call.
            try
            {
                DfbNetClient.CreateChannel(options).Dispose();
            }
            catch (ArgumentException ex)
            {
                error = ex.Message;
                return null;
            }
        }

        return options;
    }

    /// <summary>A file named by an option or its environment variable: null when neither is set; an error when the file
    /// is missing or the server is not https://.</summary>
    private static string? FileOption(ParseResult parse, Option<string?> option, string variable, Uri server, ref string? error)
    {
        var (file, from) = parse.GetValue(option) is { Length: > 0 } given
            ? (given, option.Name)
            : Environment.GetEnvironmentVariable(variable) is { Length: > 0 } env ? (env, "$" + variable) : (null, "");
        if (file is null || error is not null)
        {
            return file;
        }

        if (server.Scheme != "https")
        {
            error = $"{from} is set, but --server {server} is not https://.";
        }
        else if (!File.Exists(file))
        {
            error = $"{from} '{file}' does not exist.";
        }

        return file;
    }

    /// <summary>A one-line explanation of a failed call.</summary>
    public static string Describe(RpcException ex, Uri server) => ex.StatusCode switch
    {
        StatusCode.Unauthenticated => $"the server at {server} refused the call: {ex.Status.Detail} Pass --api-key, or set $DFBNET_API_KEY.",
        StatusCode.PermissionDenied => $"the server at {server} refused the call: {ex.Status.Detail}",
        StatusCode.Unavailable => $"cannot reach the DfbNet server at {server} ({ex.Status.Detail}). Is it running? Start one with 'dotnet run -c Release --project src/DfbNet.Server' or pass --server.",
        StatusCode.DeadlineExceeded => $"the server at {server} did not answer in time.",
        _ => $"{ex.StatusCode}: {ex.Status.Detail}",
    };
}
