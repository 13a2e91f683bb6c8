using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DfbNet.Cli.Inputs;
using DfbNet.Cli.Streaming;
using DfbNet.Client;
using DfbNet.Protocol.V1;
using Grpc.Core;

namespace DfbNet.Cli.Commands;

/// <summary><c>dfbnet classify PATH...</c>: classifies image files (or every image in folders) on a server; prints a table or JSON.</summary>
/// <remarks>Exit codes: 0 every image classified; 1 an image or the server failed; 2 bad arguments (missing path,
/// unsupported file, bad option).</remarks>
internal static class ClassifyCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("PATH") { Description = "Image files (.png, .jpg, .jpeg) or folders of them (searched recursively).", Arity = ArgumentArity.OneOrMore };
        var json = new Option<bool>("--json") { Description = "Print JSON (one object per file, with every exit event) instead of a table." };
        var server = new ServerCallOptions();
        var command = new Command("classify", "Classify images on a DfbNet server: class, confidence, the exit that answered, server time.") { paths, json };
        server.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = server.Resolve(parse, out var error);
            var files = options is null ? null : MediaPaths.ExpandImages(parse.GetValue(paths)!, out error);
            if (options is null || files is null)
            {
                await Console.Error.WriteLineAsync($"dfbnet classify: {error}");
                return 2;
            }

            using var client = new DfbNetClient(options);
            var results = new List<(string File, ClassifyResponse? Response, string? Error)>();
            foreach (var file in files)
            {
                try
                {
                    var image = await ImageInput.FromFileAsync(file, cancellationToken);
                    results.Add((file, (await client.ClassifyAsync(image, cancellationToken: cancellationToken)).Wire, null));
                }
                catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.NotFound or StatusCode.Unauthenticated or StatusCode.PermissionDenied)
                {
                    // The server (or the model) is not there: no other file will do better.
                    await Console.Error.WriteLineAsync($"dfbnet classify: {ServerCallOptions.Describe(ex, options.Address)}");
                    return 1;
                }
                catch (RpcException ex)
                {
                    results.Add((file, null, ServerCallOptions.Describe(ex, options.Address)));
                }
                catch (IOException ex)
                {
                    results.Add((file, null, ex.Message));
                }
            }

            if (parse.GetValue(json))
            {
                WriteJson(results);
            }
            else
            {
                WriteTable(results);
            }

            // An error every file shares (a bad --preset, say) is said once, not once per file.
            foreach (var group in results.Where(r => r.Error is not null).GroupBy(r => r.Error!, StringComparer.Ordinal))
            {
                var failed = group.Select(r => r.File).ToList();
                await Console.Error.WriteLineAsync(failed.Count == 1
                    ? $"dfbnet classify: {failed[0]}: {group.Key}"
                    : $"dfbnet classify: {group.Key} ({failed.Count} files: {string.Join(", ", failed.Take(3))}{(failed.Count > 3 ? ", ..." : "")})");
            }

            return results.Any(r => r.Error is not null) ? 1 : 0;
        });
        return command;
    }

    internal static string KindName(ExitKind kind) => kind switch
    {
        ExitKind.BelowThreshold => "BELOW_THRESHOLD",
        ExitKind.EarlyExit => "EARLY_EXIT",
        ExitKind.Refinement => "REFINEMENT",
        ExitKind.Fused => "FUSED",
        ExitKind.BudgetCut => "BUDGET_CUT",
        ExitKind.Error => "ERROR",
        _ => "UNSPECIFIED",
    };

    internal static double Milliseconds(Google.Protobuf.WellKnownTypes.Duration? duration) => duration?.ToTimeSpan().TotalMilliseconds ?? 0;

    private static void WriteTable(List<(string File, ClassifyResponse? Response, string? Error)> results)
    {
        var rows = results.Select(r => r.Response is { } response
            ? new[]
            {
                r.File,
                response.Answer.Prediction.ClassName,
                response.Answer.Prediction.Confidence.ToString("0.0000", CultureInfo.InvariantCulture),
                AnswerOrigin.Label(response.Events, response.Answer),
                Milliseconds(response.Answer.ServerTime).ToString("0.00", CultureInfo.InvariantCulture),
            }
            : [r.File, "ERROR", "", "", ""]).ToList();
        string[] header = ["FILE", "CLASS", "CONFIDENCE", "EXIT", "SERVER_MS"];
        var widths = header.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        Console.WriteLine(Format(header, widths));
        foreach (var row in rows)
        {
            Console.WriteLine(Format(row, widths));
        }

        static string Format(string[] cells, int[] widths) => string.Join("  ", cells.Select((c, i) => c.PadRight(widths[i]))).TrimEnd();
    }

    private static void WriteJson(List<(string File, ClassifyResponse? Response, string? Error)> results)
    {
        using var stdout = Console.OpenStandardOutput();
        using (var json = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartArray();
            foreach (var (file, response, error) in results)
            {
                json.WriteStartObject();
                json.WriteString("file", file);
                if (response is null)
                {
                    json.WriteString("error", error);
                    json.WriteEndObject();
                    continue;
                }

                var answer = response.Answer;
                json.WriteString("model", response.Model);
                json.WriteString("class", answer.Prediction.ClassName);
                json.WriteNumber("classIndex", answer.Prediction.ClassIndex);
                json.WriteNumber("confidence", answer.Prediction.Confidence);
                json.WriteNumber("exit", answer.Exit);
                json.WriteString("kind", KindName(answer.Kind));
                json.WriteString("answeredAt", AnswerOrigin.Label(response.Events, answer));
                json.WriteNumber("serverMs", Milliseconds(answer.ServerTime));
                json.WriteStartArray("events");
                foreach (var e in response.Events)
                {
                    json.WriteStartObject();
                    json.WriteNumber("exit", e.Exit);
                    json.WriteString("kind", KindName(e.Kind));
                    json.WriteString("class", e.Prediction?.ClassName);
                    json.WriteNumber("confidence", e.Prediction?.Confidence ?? 0);
                    json.WriteNumber("serverMs", Milliseconds(e.ServerTime));
                    json.WriteBoolean("final", e.Final);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        stdout.WriteByte((byte)'\n');
    }
}
