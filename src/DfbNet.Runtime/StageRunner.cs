using DfbNet.Core.Manifest;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime;

/// <summary>
/// One stage of a DFB-Net: one <see cref="InferenceSession"/>, owned and disposed here. Runs a batch of N items:
/// input [N, ...InputShape] in, logits [N, K] and (except on the last stage) the trunk feature [N, ...FeatureShape]
/// out, into buffers the caller owns, so that the caller can pool them and a scheduler can batch frames.
/// </summary>
public sealed class StageRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly long[] _inputShape;
    private readonly long[]? _featureShape;

    internal StageRunner(int index, StageSpec spec, InferenceSession session, string provider, int classCount, long[] inputShape, long[]? featureShape)
    {
        Index = index;
        Spec = spec;
        _session = session;
        Provider = provider;
        ClassCount = classCount;
        _inputShape = inputShape;
        _featureShape = featureShape;
        _inputNames = [spec.Input];
        _outputNames = featureShape is null ? [spec.LogitsOutput] : [spec.LogitsOutput, spec.FeatureOutput!];
        InputLength = Product(inputShape);
        FeatureLength = featureShape is null ? 0 : Product(featureShape);
    }

    /// <summary>Zero-based stage index (exit index - 1).</summary>
    public int Index { get; }

    public StageSpec Spec { get; }

    /// <summary>The execution provider the session runs on.</summary>
    public string Provider { get; }

    /// <summary>K.</summary>
    public int ClassCount { get; }

    /// <summary>Floats per item of the input.</summary>
    public int InputLength { get; }

    /// <summary>Floats per item of the trunk feature output; 0 on the last stage.</summary>
    public int FeatureLength { get; }

    public bool HasFeature => _featureShape is not null;

    /// <summary>The input's shape without the batch dimension.</summary>
    public IReadOnlyList<long> InputShape => _inputShape;

    /// <summary>The feature's shape without the batch dimension; null on the last stage.</summary>
    public IReadOnlyList<long>? FeatureShape => _featureShape;

    /// <summary>Runs the stage on <paramref name="batch"/> items.</summary>
    /// <param name="input">batch * <see cref="InputLength"/> floats (at least).</param>
    /// <param name="batch">N.</param>
    /// <param name="logits">Receives batch * K floats.</param>
    /// <param name="feature">Receives batch * <see cref="FeatureLength"/> floats; ignored on the last stage.</param>
    /// <param name="runOptions">Carries the terminate flag that cancellation sets.</param>
    public void Run(Memory<float> input, int batch, Memory<float> logits, Memory<float> feature, RunOptions runOptions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        var mem = OrtMemoryInfo.DefaultInstance;
        using var inputValue = OrtValue.CreateTensorValueFromMemory(mem, input[..(batch * InputLength)], WithBatch(_inputShape, batch));
        using var logitsValue = OrtValue.CreateTensorValueFromMemory(mem, logits[..(batch * ClassCount)], [batch, ClassCount]);
        if (_featureShape is null)
        {
            _session.Run(runOptions, _inputNames, [inputValue], _outputNames, [logitsValue]);
            return;
        }

        using var featureValue = OrtValue.CreateTensorValueFromMemory(mem, feature[..(batch * FeatureLength)], WithBatch(_featureShape, batch));
        _session.Run(runOptions, _inputNames, [inputValue], _outputNames, [logitsValue, featureValue]);
    }

    public void Dispose() => _session.Dispose();

    private static long[] WithBatch(long[] shape, int batch)
    {
        var full = new long[shape.Length + 1];
        full[0] = batch;
        shape.CopyTo(full, 1);
        return full;
    }

    private static int Product(long[] shape)
    {
        long n = 1;
        foreach (var d in shape)
        {
            n *= d;
        }

        return checked((int)n);
    }
}
