using DfbNet.Core.Manifest;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace DfbNet.Runtime;

/// <summary>Checks a stage session against its manifest entry and the stage before it.</summary>
internal static class StageShapes
{
    /// <summary>Elements of a tensor of <paramref name="shape"/>; throws when they do not fit an int.</summary>
    public static int ElementCount(long[] shape)
    {
        long n = 1;
        foreach (var d in shape)
        {
            n *= d;
        }

        return checked((int)n);
    }

    public static (long[]? Feature, long[] Input, int MaxBatch) Check(InferenceSession session, StageSpec spec, int index, int classCount, long[] expectedInput, bool last, string manifestPath)
    {
        var field = $"stages[{index}]";
        if (session.InputMetadata.Count != 1)
        {
            throw new ManifestException(manifestPath, $"{field}.file", $"'{spec.File}' has {session.InputMetadata.Count} inputs; a stage takes exactly one");
        }

        if (!session.InputMetadata.TryGetValue(spec.Input, out var inputMeta))
        {
            throw new ManifestException(manifestPath, $"{field}.input", $"'{spec.Input}' is not an input of '{spec.File}' (it has: {string.Join(", ", session.InputMetadata.Keys)})");
        }

        var input = WithoutBatch(inputMeta, $"{field}.input", spec.File, manifestPath);
        if (!input.SequenceEqual(expectedInput))
        {
            var what = index == 0 ? "the manifest's input size" : $"stages[{index - 1}].featureOutput";
            throw new ManifestException(manifestPath, $"{field}.input", $"'{spec.Input}' has shape [{string.Join(", ", input)}]; {what} gives [{string.Join(", ", expectedInput)}]");
        }

        if (!session.OutputMetadata.TryGetValue(spec.LogitsOutput, out var logitsMeta))
        {
            throw new ManifestException(manifestPath, $"{field}.logitsOutput", $"'{spec.LogitsOutput}' is not an output of '{spec.File}' (it has: {string.Join(", ", session.OutputMetadata.Keys)})");
        }

        var logits = WithoutBatch(logitsMeta, $"{field}.logitsOutput", spec.File, manifestPath);
        if (logits.Length != 1 || logits[0] != classCount)
        {
            throw new ManifestException(manifestPath, $"{field}.logitsOutput", $"'{spec.LogitsOutput}' has shape [N, {string.Join(", ", logits)}]; the manifest lists {classCount} classes");
        }

        // A symbolic (dynamic) batch dimension takes any batch; a fixed one is the only batch the stage runs.
        var maxBatch = inputMeta.Dimensions[0] > 0 ? inputMeta.Dimensions[0] : int.MaxValue;
        if (last)
        {
            return (null, input, maxBatch);
        }

        if (!session.OutputMetadata.TryGetValue(spec.FeatureOutput!, out var featureMeta))
        {
            throw new ManifestException(manifestPath, $"{field}.featureOutput", $"'{spec.FeatureOutput}' is not an output of '{spec.File}' (it has: {string.Join(", ", session.OutputMetadata.Keys)})");
        }

        return (WithoutBatch(featureMeta, $"{field}.featureOutput", spec.File, manifestPath), input, maxBatch);
    }

    private static long[] WithoutBatch(NodeMetadata meta, string field, string file, string manifestPath)
    {
        if (meta.ElementDataType != TensorElementType.Float)
        {
            throw new ManifestException(manifestPath, field, $"in '{file}' is {meta.ElementDataType}; stages exchange float32 tensors");
        }

        var dims = meta.Dimensions;
        if (dims.Length < 2)
        {
            throw new ManifestException(manifestPath, field, $"in '{file}' has rank {dims.Length}; expected a batch dimension and at least one more");
        }

        var shape = new long[dims.Length - 1];
        for (var i = 1; i < dims.Length; i++)
        {
            if (dims[i] <= 0)
            {
                throw new ManifestException(manifestPath, field, $"in '{file}' has a symbolic dimension {i}; only the batch dimension may be dynamic");
            }

            shape[i - 1] = dims[i];
        }

        return shape;
    }
}
