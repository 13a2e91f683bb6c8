using System.CommandLine;
using DfbNet.Core.Onnx;

namespace DfbNet.Cli.Commands;

/// <summary>
/// <c>dfbnet synth</c>: writes an untrained DFB-Net model folder: a small random-weight network built without
/// TorchSharp (tests, placeholders), or, with <c>--preset</c>, a training preset's exact architecture (timing a model
/// that has not been trained).
/// </summary>
internal static class SynthCommand
{
    public static Command Create()
    {
        var output = new Option<DirectoryInfo>("--out") { Description = "Model folder to write (created when missing).", Required = true };
        var seed = new Option<int>("--seed") { Description = "Random seed of the weights.", DefaultValueFactory = _ => 1 };
        var size = new Option<int>("--size") { Description = "Square input size in pixels (>= 16, divisible by 8).", DefaultValueFactory = _ => 32 };
        var widths = new Option<string>("--widths") { Description = "Trunk width of each stage, comma separated; their count is the number of exits.", DefaultValueFactory = _ => "8,16,32" };

        var preset = new Option<string?>("--preset") { Description = "Instead of --size/--widths: a training preset's architecture (paper, edge or tiny), exported as training would (for timing)." };
        var zero = new Option<bool>("--zero-weights") { Description = "With --preset: every weight zero, so that the files compress to almost nothing (the time of dense kernels does not depend on values)." };
        var fp16 = new Option<bool>("--fp16") { Description = "Store weights and activations as float16, as dfbnet export --fp16 does." };
        var command = new Command("synth", "Write an UNTRAINED DFB-Net as a servable model folder (tests, placeholders, timing).")
        {
            output, seed, size, widths, preset, zero, fp16,
        };
        command.SetAction(parse =>
        {
            var folder = parse.GetValue(output)!;
            if (parse.GetValue(preset) is { } presetName)
            {
                if (parse.GetResult(size) is { Implicit: false } || parse.GetResult(widths) is { Implicit: false })
                {
                    Console.Error.WriteLine("dfbnet synth: --preset sets the architecture; leave out --size and --widths.");
                    return 2;
                }

                try
                {
                    return ConvertAndReport(folder, Training.Export.UntrainedModelExporter.Export(presetName, folder.FullName, parse.GetValue(zero), parse.GetValue(seed)), parse.GetValue(fp16));
                }
                catch (ArgumentException ex)
                {
                    Console.Error.WriteLine($"dfbnet synth: --preset '{presetName}': {ex.Message}");
                    return 2;
                }
            }

            if (parse.GetValue(zero))
            {
                Console.Error.WriteLine("dfbnet synth: --zero-weights needs --preset.");
                return 2;
            }

            var widthText = parse.GetValue(widths)!;
            var parts = widthText.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var stageWidths = new int[parts.Length];
            for (var i = 0; i < parts.Length; i++)
            {
                if (!int.TryParse(parts[i], out stageWidths[i]) || stageWidths[i] < 1)
                {
                    Console.Error.WriteLine($"dfbnet synth: --widths '{widthText}': '{parts[i]}' is not a positive integer.");
                    return 2;
                }
            }

            var options = new SyntheticDfbNetOptions
            {
                Seed = parse.GetValue(seed),
                InputSize = parse.GetValue(size),
                StageWidths = stageWidths,
            };
            Core.Manifest.ModelManifest manifest;
            try
            {
                manifest = SyntheticModelFolder.Write(folder.FullName, options);
            }
            catch (ArgumentException ex)
            {
                Console.Error.WriteLine($"dfbnet synth: {ex.Message}");
                return 2;
            }

            return ConvertAndReport(folder, manifest, parse.GetValue(fp16));
        });
        return command;
    }

    /// <summary>Converts the written model to float16 when asked, then says what was written.</summary>
    private static int ConvertAndReport(DirectoryInfo folder, Core.Manifest.ModelManifest manifest, bool fp16)
    {
        if (fp16)
        {
            Fp16Converter.ConvertFolder(folder.FullName, manifest);
        }

        Console.WriteLine($"Wrote {manifest.Stages.Count} stages and {Core.Manifest.ModelManifest.FileName} to {folder.FullName} ({manifest.Stages.Sum(s => s.Parameters):N0} parameters, {manifest.Stages.Sum(s => s.Flops):N0} multiply-adds, untrained{(fp16 ? ", float16" : "")}).");
        return 0;
    }
}
