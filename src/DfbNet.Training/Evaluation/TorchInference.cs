using DfbNet.Training.Data;
using DfbNet.Training.Model;
using static TorchSharp.torch;

namespace DfbNet.Training.Evaluation;

/// <summary>Runs a TorchSharp model in eval mode over a data set at test-time preprocessing.</summary>
internal static class TorchInference
{
    /// <summary>Logits of every exit for every image: result[s] holds N x classes values, row-major.</summary>
    public static float[][] ExitLogits(DfbNetModel model, ImageDataset data, InputRecipe recipe, int batchSize = 500, bool mainOnly = false)
    {
        var exits = mainOnly ? 1 : model.ExitCount;
        var classes = model.Config.Classes;
        var result = new float[exits][];
        for (var s = 0; s < exits; s++)
        {
            result[s] = new float[data.Count * classes];
        }

        var device = model.Heads[0].Classifier.weight!.device;
        var wasTraining = model.training;
        model.eval();
        using (no_grad())
        {
            for (var start = 0; start < data.Count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var count = Math.Min(batchSize, data.Count - start);
                var (cpuX, _) = BatchBuilder.Test(data, start, count, recipe);
                var x = cpuX.to(device);
                var logits = mainOnly ? [model.ForwardMain(x)] : model.forward(x);
                for (var s = 0; s < exits; s++)
                {
                    logits[s].cpu().contiguous().data<float>().CopyTo(result[s], start * classes);
                }
            }
        }

        model.train(wasTraining);
        return result;
    }

    /// <summary>Top-1 accuracy of each exit alone.</summary>
    public static float[] Accuracy(float[][] logits, byte[] labels, int classes) =>
        [.. logits.Select(l => (float)ExitEvaluation.Accuracy(l, labels, classes))];
}
