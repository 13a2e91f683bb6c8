using System.Diagnostics;
using DfbNet.Core;
using DfbNet.Runtime;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Training.Data;
using DfbNet.Training.Export;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Cli.Evaluation;

/// <summary>
/// Runs an exported model folder through ONNX Runtime on the CPU exactly as the server does: the server's
/// preprocessor (manifest normalisation), then the stage sessions. Also times batch-1 inference, both early-exit and
/// the main branch alone (<c>main.onnx</c>), so gains are measured in one run on one machine.
/// </summary>
internal sealed class OrtModelRunner : IDisposable
{
    private readonly EarlyExitEngine _engine;
    private readonly InferenceSession? _main;
    private readonly RunOptions _runOptions = new();

    public OrtModelRunner(string modelFolder, int threads)
    {
        _engine = EarlyExitEngine.Load(modelFolder, new EngineOptions { IntraOpThreads = threads, WarmupRuns = 3 });
        var mainPath = Path.Combine(modelFolder, ModelExporter.MainBranchFile);
        if (File.Exists(mainPath))
        {
            using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
            _main = new InferenceSession(mainPath, options);
        }
    }

    public EarlyExitEngine Engine => _engine;

    public int Classes => _engine.Classes.Count;

    public bool HasMainBranch => _main is not null;

    /// <summary>Stage 1 inputs of images [start, start+count) through the server's preprocessor.</summary>
    public float[] Preprocess(CifarDataset data, int start, int count)
    {
        var pre = _engine.Preprocessor;
        var length = pre.TensorLength;
        var buffer = new float[count * length];
        Parallel.For(0, count, i =>
        {
            var hwc = ToHwc(data.Image(start + i));
            pre.Process(ImageSource.Raw(hwc, CifarDataset.Side, CifarDataset.Side), buffer.AsSpan(i * length, length));
        });
        return buffer;
    }

    /// <summary>Logits of every exit for every image (batched; all stages run).</summary>
    public float[][] ExitLogits(CifarDataset data, int batchSize = 250)
    {
        var stages = _engine.Stages;
        var k = Classes;
        var result = stages.Select(_ => new float[data.Count * k]).ToArray();
        for (var start = 0; start < data.Count; start += batchSize)
        {
            var n = Math.Min(batchSize, data.Count - start);
            var input = Preprocess(data, start, n);
            for (var s = 0; s < stages.Count; s++)
            {
                var feature = stages[s].HasFeature ? new float[n * stages[s].FeatureLength] : [];
                stages[s].Run(input, n, result[s].AsMemory(start * k, n * k), feature, _runOptions);
                input = feature;
            }
        }

        return result;
    }

    /// <summary>Mean milliseconds per image at batch 1 of Algorithm 1 (stages until an exit fires, softmax, fusion).</summary>
    public double TimeEarlyExit(float[] inputs, int count, ExitPolicy policy)
    {
        var stages = _engine.Stages;
        var k = Classes;
        var length = stages[0].InputLength;
        var logits = new float[k];
        var probabilities = new float[k];
        var sum = new float[k];
        var features = stages.Select(s => new float[Math.Max(s.FeatureLength, 1)]).ToArray();
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            Memory<float> input = inputs.AsMemory(i * length, length);
            Array.Clear(sum);
            for (var s = 0; s < stages.Count; s++)
            {
                stages[s].Run(input, 1, logits, features[s], _runOptions);
                ExitPolicy.Softmax(logits, probabilities);
                var c = ExitPolicy.ArgMax(probabilities);
                if (policy.ShouldExit(s, probabilities[c]))
                {
                    break;
                }

                for (var j = 0; j < k; j++)
                {
                    sum[j] += probabilities[j];
                }

                input = features[s];
            }
        }

        return watch.Elapsed.TotalMilliseconds / count;
    }

    /// <summary>Mean milliseconds per image at batch 1 of the main branch alone.</summary>
    public double TimeMainBranch(float[] inputs, int count)
    {
        if (_main is null)
        {
            throw new InvalidOperationException($"The model folder has no {ModelExporter.MainBranchFile}; re-export it to time the main branch alone.");
        }

        var pre = _engine.Preprocessor;
        var length = pre.TensorLength;
        var logits = new float[Classes];
        var inputName = _main.InputNames[0];
        var outputName = _main.OutputNames[0];
        long[] shape = [1, 3, pre.Height, pre.Width];
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, inputs.AsMemory(i * length, length), shape);
            using var output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, logits.AsMemory(), [1, Classes]);
            _main.Run(_runOptions, [inputName], [input], [outputName], [output]);
        }

        return watch.Elapsed.TotalMilliseconds / count;
    }

    public void Dispose()
    {
        _runOptions.Dispose();
        _main?.Dispose();
        _engine.Dispose();
    }

    /// <summary>CIFAR stores planar R, G, B; the preprocessor takes interleaved RGB rows.</summary>
    private static byte[] ToHwc(ReadOnlySpan<byte> planar)
    {
        const int plane = CifarDataset.Side * CifarDataset.Side;
        var hwc = new byte[3 * plane];
        for (var p = 0; p < plane; p++)
        {
            hwc[3 * p] = planar[p];
            hwc[(3 * p) + 1] = planar[plane + p];
            hwc[(3 * p) + 2] = planar[(2 * plane) + p];
        }

        return hwc;
    }
}
