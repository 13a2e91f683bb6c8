using System.CommandLine;
using DfbNet.Cli.Evaluation;
using DfbNet.Core.Manifest;
using DfbNet.Core.Onnx;
using DfbNet.Training.Data;
using DfbNet.Training.Export;
using DfbNet.Training.Training;

namespace DfbNet.Cli.Commands;

/// <summary><c>dfbnet export</c>: a training checkpoint to a servable model folder (ONNX stages + manifest).</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<DirectoryInfo>("--checkpoint") { Description = "Training output folder (checkpoint.json, model.bin).", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Model folder to write, e.g. models/edge.", Required = true };
        var description = new Option<string?>("--description") { Description = "The manifest's description (a default names the architecture)." };
        var data = new Option<DirectoryInfo?>("--data") { Description = "The training data (CIFAR-10 or an image folder, as given to train): also check parity on 64 of its test images (random inputs are always checked)." };
        var fp16 = new Option<bool>("--fp16") { Description = "Store weights and activations as float16 (inputs and outputs stay float32); measure the accuracy change with dfbnet eval." };
        var command = new Command("export", "Export a trained DFB-Net as one ONNX graph per stage plus manifest.json (BN folded, no dropout).")
        {
            checkpoint, output, description, data, fp16,
        };
        command.SetAction(parse =>
        {
            var folder = parse.GetValue(output)!.FullName;
            var manifest = ModelExporter.Export(parse.GetValue(checkpoint)!.FullName, folder, parse.GetValue(description));
            Console.WriteLine($"Wrote {manifest.Stages.Count} stages and manifest.json to {folder}");
            foreach (var stage in manifest.Stages)
            {
                Console.WriteLine($"  {stage.File}: {stage.Input} -> {stage.LogitsOutput}{(stage.FeatureOutput is null ? "" : ", " + stage.FeatureOutput)}; {stage.Parameters:N0} parameters, {stage.Flops:N0} MACs");
            }

            // Parity: ONNX Runtime against TorchSharp on the same stage inputs.
            var size = manifest.Input.Width;
            var randomDiff = ExportParity.MaxDifference(parse.GetValue(checkpoint)!.FullName, folder, ExportParity.RandomInputs(16, size, seed: 1), 16);
            Console.WriteLine($"Parity, random inputs: max |ONNX Runtime - TorchSharp| over logits and features = {randomDiff:E2}");
            if (parse.GetValue(data) is { } dataDir)
            {
                var source = TrainingDataSource.Open(dataDir.FullName, Console.WriteLine);
                source.CheckClasses(manifest.Classes);
                var test = source.LoadTest(size, Checkpoint.Load(parse.GetValue(checkpoint)!.FullName).Options.Split(), limit: 64);
                using var runner = new OrtModelRunner(folder, threads: 0);
                var realDiff = ExportParity.MaxDifference(parse.GetValue(checkpoint)!.FullName, folder, runner.Preprocess(test, 0, test.Count), test.Count);
                Console.WriteLine($"Parity, {test.Count} test images through the server's preprocessor: max difference = {realDiff:E2}");
            }

            if (parse.GetValue(fp16))
            {
                Fp16Converter.ConvertFolder(folder, manifest);
                Console.WriteLine("Converted the stages to float16 (float32 inputs and outputs); the parity figures above are of the float32 export.");
            }

            if (manifest.Untrained)
            {
                Console.WriteLine("Warning: the checkpoint has not finished training; the manifest is marked untrained.");
            }

            return 0;
        });
        return command;
    }
}
