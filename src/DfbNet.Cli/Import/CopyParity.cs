using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Cli.Import;

/// <summary>
/// Runs a renamed copy of a stage beside the file it came from, on the same random input, and requires the same logits
/// and feature: renaming goes through the repository's subset of the ONNX schema, and a field that did not survive the
/// round trip would otherwise change the network without a word.
/// </summary>
internal static class CopyParity
{
    /// <exception cref="InvalidOperationException">The copy computes something else (a bug of the import, not the user's).</exception>
    public static void Check(ImportedGraph original, byte[] copy, StageNames from, StageNames to, int seed)
    {
        var input = original.Signature.Inputs[0];
        long[] shape = [1, .. input.PerImage];
        var random = new Random(seed);
        var data = new float[shape.Aggregate(1L, (n, d) => n * d)];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (random.NextSingle() * 2f) - 1f;
        }

        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(copy, options);
        var expected = Run(original.Session, from, shape, data);
        var actual = Run(session, to, shape, data);
        for (var o = 0; o < expected.Count; o++)
        {
            if (!expected[o].AsSpan().SequenceEqual(actual[o]))
            {
                throw new InvalidOperationException($"{original.Signature.Label}: the renamed copy computes other values for '{(o == 0 ? from.Logits : from.Feature)}' than the file itself; please report this with the file.");
            }
        }
    }

    private static List<float[]> Run(InferenceSession session, StageNames names, long[] shape, float[] data)
    {
        string[] outputs = names.Feature is null ? [names.Logits] : [names.Logits, names.Feature];
        using var value = OrtValue.CreateTensorValueFromMemory(data, shape);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [names.Input], [value], outputs);
        return [.. results.Select(r => r.GetTensorDataAsSpan<float>().ToArray())];
    }
}
