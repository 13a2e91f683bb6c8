using DfbNet.Core.Manifest;
using DfbNet.Training.Data;
using DfbNet.Training.Model;
using DfbNet.Training.Training;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace DfbNet.Cli.Evaluation;

/// <summary>
/// Checks an exported folder against the checkpoint it came from: every stage through ONNX Runtime (each fed the
/// previous ONNX feature) against the TorchSharp stage in eval mode, on random inputs and on real test images
/// preprocessed as the server does. Returns the largest absolute difference of any logit or feature.
/// </summary>
internal static class ExportParity
{
    public static float MaxDifference(string checkpointFolder, string modelFolder, float[] inputs, int count)
    {
        var checkpoint = Checkpoint.Load(checkpointFolder);
        using var model = checkpoint.LoadModel(checkpointFolder);
        var manifest = ManifestLoader.LoadFolder(modelFolder);
        var size = manifest.Input.Width;
        var max = 0f;
        using var scope = NewDisposeScope();
        var torchInput = tensor(inputs, [count, 3, size, size]);
        var ortInput = inputs;
        long[] shape = [count, 3, size, size];
        using var runOptions = new RunOptions();
        using (no_grad())
        {
            for (var s = 0; s < manifest.Stages.Count; s++)
            {
                var spec = manifest.Stages[s];
                var (logits, feature) = model.ForwardStage(s, torchInput);
                using var session = new InferenceSession(Path.Combine(modelFolder, spec.File));
                using var x = OrtValue.CreateTensorValueFromMemory(ortInput, shape);
                string[] names = spec.FeatureOutput is null ? [spec.LogitsOutput] : [spec.LogitsOutput, spec.FeatureOutput];
                using var outputs = session.Run(runOptions, [spec.Input], [x], names);
                max = Math.Max(max, MaxAbs(outputs[0].GetTensorDataAsSpan<float>(), logits.contiguous().data<float>().ToArray()));
                if (spec.FeatureOutput is not null)
                {
                    var ortFeature = outputs[1].GetTensorDataAsSpan<float>().ToArray();
                    max = Math.Max(max, MaxAbs(ortFeature, feature.contiguous().data<float>().ToArray()));
                    ortInput = ortFeature;
                    shape = outputs[1].GetTensorTypeAndShape().Shape;
                    torchInput = feature;
                }
            }
        }

        return max;
    }

    /// <summary>Random stage-1 inputs in the range normalised images take.</summary>
    public static float[] RandomInputs(int count, int size, int seed)
    {
        var random = new Random(seed);
        var values = new float[count * 3 * size * size];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)((random.NextDouble() * 4) - 2);
        }

        return values;
    }

    private static float MaxAbs(ReadOnlySpan<float> a, float[] b)
    {
        var max = 0f;
        for (var i = 0; i < b.Length; i++)
        {
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }

        return max;
    }
}
