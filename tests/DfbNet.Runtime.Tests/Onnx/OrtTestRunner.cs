using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.Tests.Onnx;

internal sealed record TensorData(float[] Data, long[] Shape);

/// <summary>Runs a serialised model once on ONNX Runtime's default (CPU) provider and copies every output out.</summary>
internal static class OrtTestRunner
{
    public static Dictionary<string, TensorData> Run(byte[] model, params (string Name, TensorData Value)[] inputs)
    {
        using var session = new InferenceSession(model);
        var outputNames = session.OutputMetadata.Keys.ToArray();
        var inputValues = new List<OrtValue>(inputs.Length);
        try
        {
            foreach (var (_, value) in inputs)
            {
                inputValues.Add(OrtValue.CreateTensorValueFromMemory(value.Data, value.Shape));
            }

            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, inputs.Select(i => i.Name).ToArray(), inputValues, outputNames);
            var result = new Dictionary<string, TensorData>(StringComparer.Ordinal);
            var index = 0;
            foreach (var output in outputs)
            {
                result[outputNames[index++]] = new TensorData(
                    output.GetTensorDataAsSpan<float>().ToArray(),
                    output.GetTensorTypeAndShape().Shape);
            }

            return result;
        }
        finally
        {
            foreach (var value in inputValues)
            {
                value.Dispose();
            }
        }
    }

    public static float[] RandomData(Random random, int count, float min = -1f, float max = 1f)
    {
        var data = new float[count];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = min + ((max - min) * random.NextSingle());
        }

        return data;
    }

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float tolerance = 1e-4f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            var allowed = tolerance * Math.Max(1f, Math.Abs(expected[i]));
            Assert.True(
                Math.Abs(expected[i] - actual[i]) <= allowed,
                $"Element {i}: expected {expected[i]}, got {actual[i]}.");
        }
    }
}
