using System.CommandLine;
using DfbNet.Core.Onnx;

namespace DfbNet.Cli.Commands;

/// <summary><c>dfbnet synth</c>: writes an untrained, random-weight DFB-Net model folder (tests, a placeholder default model).</summary>
internal static class SynthCommand
{
    public static Command Create()
    {
        var output = new Option<DirectoryInfo>("--out") { Description = "Model folder to write (created when missing).", Required = true };
        var seed = new Option<int>("--seed") { Description = "Random seed of the weights.", DefaultValueFactory = _ => 1 };
        var size = new Option<int>("--size") { Description = "Square input size in pixels (>= 16, divisible by 8).", DefaultValueFactory = _ => 32 };
        var widths = new Option<string>("--widths") { Description = "Trunk width of each stage, comma separated; their count is the number of exits.", DefaultValueFactory = _ => "8,16,32" };

        var command = new Command("synth", "Write an UNTRAINED DFB-Net with seeded random weights as a servable model folder.")
        {
            output, seed, size, widths,
        };
        command.SetAction(parse =>
        {
            var folder = parse.GetValue(output)!;
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

            Console.WriteLine($"Wrote {manifest.Stages.Count} stages and {Core.Manifest.ModelManifest.FileName} to {folder.FullName} ({manifest.Stages.Sum(s => s.Parameters):N0} parameters, untrained).");
            return 0;
        });
        return command;
    }
}
