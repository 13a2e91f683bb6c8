using System.CommandLine;
using DfbNet.Cli.Import;
using DfbNet.Core.Manifest;

namespace DfbNet.Cli.Commands;

/// <summary>
/// <c>dfbnet import</c>: stage models exported from another framework (one ONNX file per stage) to a servable model
/// folder: the stages' input and outputs told apart by shape and checked to chain, the files copied with names that
/// chain, and a validated manifest with the default presets. See docs/BRING-YOUR-OWN-MODEL.md.
/// </summary>
/// <remarks>Exit codes: 0 written; 2 a bad option or a file that does not fit, one line naming it.</remarks>
internal static class ImportCommand
{
    public static Command Create()
    {
        var stage = new Option<string[]>("--stage") { Description = "A stage's ONNX file; repeat it once per stage, in order (stage 1 takes the image).", AllowMultipleArgumentsPerToken = false };
        var stages = new Option<string?>("--stages") { Description = "Instead of --stage: the stage files in order, comma separated (a.onnx,b.onnx,c.onnx)." };
        var classes = new Option<string?>("--classes") { Description = "Required. Class names in logit order: a comma list, or a text file with one name per line." };
        var mean = new Option<string?>("--mean") { Description = "Required. Per-channel mean R,G,B subtracted after scaling (for example 0.485,0.456,0.406)." };
        var std = new Option<string?>("--std") { Description = "Required. Per-channel standard deviation R,G,B divided by last (for example 0.229,0.224,0.225)." };
        var scale = new Option<string>("--scale") { Description = "Applied to the 0..255 pixel value first: a number or a fraction.", DefaultValueFactory = _ => ImportOptions.DefaultScale };
        var inputSize = new Option<string?>("--input-size") { Description = "The square side stage 1 takes, checked against its input shape (read from it when left out)." };
        var baseline = new Option<string?>("--baseline") { Description = "The whole baseline network (image to logits) for dfbnet eval's and calibrate's comparison; copied as baseline.onnx." };
        var logits = new Option<string[]>("--logits-output") { Description = "The logits output's name where shapes cannot tell: once for every stage, or once per stage in order.", AllowMultipleArgumentsPerToken = false };
        var feature = new Option<string[]>("--feature-output") { Description = "The feature output's name where shapes cannot tell: once for every stage but the last, or once per such stage in order.", AllowMultipleArgumentsPerToken = false };
        var output = new Option<string?>("--out") { Description = "Required. The model folder to write (created when missing), e.g. models/mine." };
        var description = new Option<string?>("--description") { Description = "The manifest's description (a default names the files)." };
        var command = new Command("import", "Import stage models exported elsewhere (one ONNX file per stage: trunk segment s and exit s) as a servable model folder.")
        {
            stage, stages, classes, mean, std, scale, inputSize, baseline, logits, feature, output, description,
        };
        command.SetAction(parse =>
        {
            try
            {
                var options = ImportOptions.Parse(
                    parse.GetValue(stage) ?? [],
                    parse.GetValue(stages),
                    Required(parse.GetValue(classes), "--classes", "the class names in logit order (a comma list or a file)"),
                    Required(parse.GetValue(mean), "--mean", "the per-channel mean R,G,B the network was trained with"),
                    Required(parse.GetValue(std), "--std", "the per-channel standard deviation R,G,B the network was trained with"),
                    parse.GetValue(scale)!,
                    parse.GetValue(inputSize),
                    parse.GetValue(baseline),
                    parse.GetValue(logits) ?? [],
                    parse.GetValue(feature) ?? [],
                    Required(parse.GetValue(output), "--out", "the model folder to write"),
                    parse.GetValue(description));
                Report(options, ModelImporter.Import(options));
                return 0;
            }
            catch (Exception ex) when (ex is ImportException or ManifestException)
            {
                Console.Error.WriteLine($"dfbnet import: {ex.Message}");
                return 2;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A file that cannot be read or a folder that cannot be written; .NET's message names the path.
                Console.Error.WriteLine($"dfbnet import: {ex.Message}");
                return 2;
            }
        });
        return command;
    }

    private static string Required(string? value, string option, string what) =>
        value ?? throw new ImportException($"{option} is missing: {what}");

    /// <summary>What was written, and what to do next.</summary>
    private static void Report(ImportOptions options, ImportResult result)
    {
        var manifest = result.Manifest;
        var folder = Path.GetFullPath(options.OutFolder);
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder));
        var input = manifest.Input;
        Console.WriteLine($"Imported {manifest.Stages.Count} stages into {folder}: {manifest.Classes.Count} classes, {input.Width}x{input.Height} RGB input, {manifest.Stages.Sum(s => s.Parameters):N0} parameters.");
        for (var s = 0; s < result.Stages.Count; s++)
        {
            var (stage, spec) = (result.Stages[s], manifest.Stages[s]);
            var feature = stage.From.Feature is null ? "" : $", feature {Renamed(stage.From.Feature, stage.To.Feature!)}";
            Console.WriteLine($"  {spec.File} from {stage.Source}: input {Renamed(stage.From.Input, stage.To.Input)}, logits {Renamed(stage.From.Logits, stage.To.Logits)}{feature}");
        }

        if (manifest.Baseline is { } baseline)
        {
            Console.WriteLine($"  {baseline.File} from {options.Baseline}: input '{baseline.Input}', logits '{baseline.LogitsOutput}'");
        }

        Console.WriteLine("Each copy gives its file's logits and feature on a random input, and the folder loads as the server loads it.");
        Console.WriteLine($"Presets: {DefaultPresets.Main} (the default: the last exit only, the network as it was trained) and {DefaultPresets.Paper} (0.99 at the side exits, 0.75 at the last: the paper's CIFAR-10 thresholds, a starting point).");
        Console.WriteLine("Multiply-adds are not counted for imported graphs (0 in the manifest); calibration judges presets by the time it measures.");
        Console.WriteLine("Next:");
        Console.WriteLine($"  dfbnet calibrate --model {options.OutFolder} --data DATA   fast/balanced/accurate thresholds chosen on your validation images (docs/TRAINING.md)");
        Console.WriteLine($"  dfbnet eval --model {options.OutFolder} --data DATA        accuracy of every exit and preset, and time per image");
        Console.WriteLine($"  serve: put the folder under the server's model root (DfbNet:ModelRoot, default models/) and ask for model '{name}', or --DfbNet:DefaultModel={name}");
    }

    private static string Renamed(string from, string to) => from == to ? $"'{to}'" : $"'{from}' as '{to}'";
}
