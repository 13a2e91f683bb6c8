using System.Diagnostics;
using DfbNet.Core;
using DfbNet.Core.Onnx;
using DfbNet.Runtime;
using DfbNet.Runtime.ExecutionProviders;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Training.Data;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Cli.Evaluation;

/// <summary>Logits of a data set: every exit's (N x classes each) and the baseline's (null for a model without one).</summary>
internal sealed record ModelLogits(float[][] Exits, float[]? Baseline);

/// <summary>Refine mode under one budget: accuracy of the final answers, their mean server time, the shares cut by the
/// budget and left without an answer, and the mean number of exits run.</summary>
internal sealed record AnytimePoint(double Accuracy, double MeanMs, double Cut, double Unanswered, double MeanExits);

/// <summary>
/// Runs a model folder through ONNX Runtime exactly as the server does: the server's preprocessor (manifest
/// normalisation), then the stage sessions on the execution provider chain. Also times batch-1 inference per image,
/// both the engine's early exit and the main branch alone (composed from the stages), so gains are measured in one
/// run on one machine and provider.
/// </summary>
internal sealed class OrtModelRunner : IDisposable
{
    private readonly EarlyExitEngine _engine;
    private readonly MainBranchRunner _main;
    private readonly MainBranchRunner? _baseline;
    private readonly Lazy<EarlyExitEngine> _batchEngine;

    /// <param name="modelFolder">The model.</param>
    /// <param name="threads">ONNX Runtime intra-op threads.</param>
    /// <param name="providers">The provider chain, e.g. <c>cuda,cpu</c>.</param>
    public OrtModelRunner(string modelFolder, int threads, string providers = "cpu")
        : this(modelFolder, threads, ExecutionProviderChain.Parse(providers))
    {
    }

    /// <param name="modelFolder">The model.</param>
    /// <param name="threads">ONNX Runtime intra-op threads.</param>
    /// <param name="chain">The providers; with graph capture on, the stages and the main branch alone are captured.</param>
    public OrtModelRunner(string modelFolder, int threads, ExecutionProviderChain chain)
    {
        // Frames are timed one at a time, each submitted once the last has ended: each runs on the calling thread, as
        // the baseline does and as the server runs a frame that reaches an idle model, with no executor hand-off.
        var options = new EngineOptions
        {
            Providers = chain,
            IntraOpThreads = threads,
            WarmupRuns = 3,
            Scheduler = new() { CallerRunsAfterIdle = TimeSpan.Zero },
        };
        _engine = EarlyExitEngine.Load(modelFolder, options);

        // Captured stages run one item through fixed buffers; accuracy runs batches, on sessions of their own.
        _batchEngine = new Lazy<EarlyExitEngine>(() => _engine.CapturesGraphs ? EarlyExitEngine.Load(modelFolder, options.WithProviders(chain.WithoutGraphCapture())) : _engine);

        _main = new MainBranchRunner(_engine.Folder, _engine.Manifest, chain, threads);
        _baseline = MainBranchRunner.ForBaseline(_engine.Folder, _engine.Manifest, chain, threads);
        if (_main.CaptureRefusal is { } refusal)
        {
            Console.Error.WriteLine($"The main branch alone could not be captured as a graph; it runs without: {refusal}");
        }
    }

    /// <summary>The engine's providers, and whether its stages replay captured graphs.</summary>
    public string EngineDescription => _engine.ExecutionProvider + (_engine.CapturesGraphs ? " with captured graphs" : "");

    public EarlyExitEngine Engine => _engine;

    public int Classes => _engine.Classes.Count;

    /// <summary>The provider the main branch alone runs on.</summary>
    public string MainBranchProvider => _main.Provider;

    /// <summary>Whether the model folder holds the baseline trained alone (manifest <c>baseline</c>).</summary>
    public bool HasBaseline => _baseline is not null;

    /// <summary>Stage 1 inputs of images [start, start+count) through the server's preprocessor.</summary>
    /// <param name="data">The images.</param>
    /// <param name="start">The first.</param>
    /// <param name="count">How many.</param>
    /// <param name="encoding">How each travels as a frame (raw pixels when null); encoded frames are decoded as the server decodes them.</param>
    public float[] Preprocess(ImageDataset data, int start, int count, FrameEncoding? encoding = null)
    {
        var pre = _engine.Preprocessor;
        var length = pre.TensorLength;
        var buffer = new float[count * length];
        encoding ??= FrameEncoding.Raw;
        Parallel.For(0, count, i => pre.Process(encoding.Source(data.ImageHwc(start + i), data.Side), buffer.AsSpan(i * length, length)));
        return buffer;
    }

    /// <summary>
    /// Logits of every exit for every image (batched; all stages run) and, where the model has one, of the baseline
    /// (batch 1): each image preprocessed (and encoded and decoded, for <paramref name="encoding"/>) once for both.
    /// </summary>
    public ModelLogits Logits(ImageDataset data, FrameEncoding? encoding = null, int batchSize = 250)
    {
        var engine = _batchEngine.Value;
        var k = Classes;
        var length = _engine.Preprocessor.TensorLength;
        var result = engine.Stages.Select(_ => new float[data.Count * k]).ToArray();
        var logits = result.Select(r => (Memory<float>)r).ToArray();
        var baseline = _baseline is null ? null : new float[data.Count * k];
        for (var start = 0; start < data.Count; start += batchSize)
        {
            var n = Math.Min(batchSize, data.Count - start);
            var inputs = Preprocess(data, start, n, encoding);
            engine.RunAllExits(inputs, n, [.. logits.Select(l => l.Slice(start * k, n * k))], batchSize);
            for (var i = 0; baseline is not null && i < n; i++)
            {
                _baseline!.Run(inputs.AsMemory(i * length, length), baseline.AsMemory((start + i) * k, k));
            }
        }

        return new ModelLogits(result, baseline);
    }

    /// <summary>Milliseconds per image of each stage alone at each batch size (the engine's host path), for what batching buys.</summary>
    public double[][] TimeStagesByBatch(ImageDataset data, IReadOnlyList<int> batchSizes, int runs)
    {
        var engine = _batchEngine.Value;
        var largest = batchSizes.Max();
        var inputs = Preprocess(data, 0, Math.Min(largest, data.Count));
        if (inputs.Length < largest * engine.Preprocessor.TensorLength)
        {
            // Fewer images than the largest batch: repeat them.
            var repeated = new float[largest * engine.Preprocessor.TensorLength];
            for (var i = 0; i < repeated.Length; i++)
            {
                repeated[i] = inputs[i % inputs.Length];
            }

            inputs = repeated;
        }

        return [.. batchSizes.Select(b => engine.TimeStages(inputs, b, runs).Select(t => t.TotalMilliseconds / b).ToArray())];
    }

    /// <summary>Per-image milliseconds at batch 1 of the engine's first-exit path (Algorithm 1), as the server runs it.</summary>
    public async Task<LatencySample> TimeEarlyExitAsync(float[] inputs, int count, ExitPolicy policy, CancellationToken cancellationToken = default)
    {
        var times = new double[count];
        var frame = new byte[_engine.Preprocessor.TensorLength * sizeof(float)];
        for (var i = 0; i < count; i++)
        {
            times[i] = await TimeFrameAsync(inputs, i, policy, frame, cancellationToken);
        }

        return new LatencySample(times);
    }

    /// <summary>
    /// Mean milliseconds per image of leaving at each exit (the first-exit path with every earlier exit switched off;
    /// fusion costs what the last exit does). The paths come in random order (a shuffle of the M paths per M images), so
    /// that caches are as cold between paths as when a preset mixes them: timed one path after another, the short paths
    /// look about 15% cheaper.
    /// </summary>
    public async Task<double[]> TimeExitPathsAsync(float[] inputs, int count, CancellationToken cancellationToken = default)
    {
        var exits = _engine.ExitCount;
        var policies = Enumerable.Range(0, exits).Select(s =>
        {
            var thresholds = new float[exits];
            Array.Fill(thresholds, 1f);
            thresholds[s] = 0f;
            return new ExitPolicy(thresholds);
        }).ToArray();
        var total = new double[exits];
        var runs = new int[exits];
        var frame = new byte[_engine.Preprocessor.TensorLength * sizeof(float)];
        if (count < exits)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"Timing {exits} exit paths needs at least {exits} images.");
        }

        // One untimed frame per path first: a path's first frame pays one-off costs (JIT of its branches) that would
        // weigh on its mean as much as tens of ordinary frames.
        for (var s = 0; s < exits; s++)
        {
            await TimeFrameAsync(inputs, s, policies[s], frame, cancellationToken);
        }

        // Paths in a random order within each block of M images: every path gets its share, even of a few images.
        var random = new Random(0);
        var order = Enumerable.Range(0, exits).ToArray();
        for (var i = 0; i < count; i++)
        {
            if (i % exits == 0)
            {
                random.Shuffle(order);
            }

            var s = order[i % exits];
            total[s] += await TimeFrameAsync(inputs, i, policies[s], frame, cancellationToken);
            runs[s]++;
        }

        return [.. total.Select((t, s) => t / runs[s])];
    }

    /// <summary>
    /// Images [0, count) one at a time through the engine in refine mode under <paramref name="budget"/>, from the raw
    /// pixels (preprocessing inside the budget, as the server counts it); the final answers scored.
    /// </summary>
    public async Task<AnytimePoint> RunWithBudgetAsync(ImageDataset data, int count, ExitPolicy policy, TimeSpan budget, CancellationToken cancellationToken = default)
    {
        int correct = 0, cut = 0, unanswered = 0;
        double totalMs = 0, exits = 0;
        for (var i = 0; i < count; i++)
        {
            var request = new FrameRequest("a", ImageSource.Raw(data.ImageHwc(i), data.Side, data.Side), policy, InferenceMode.Refine, budget, Stopwatch.GetTimestamp());
            ExitEvent? last = null;
            await foreach (var e in _engine.ClassifyAsync(request, cancellationToken))
            {
                last = e;
            }

            if (last is null || !last.IsFinal)
            {
                throw new InvalidOperationException($"Image {i} ended without a final event.");
            }

            totalMs += last.ServerTime.TotalMilliseconds;
            exits += last.ExitsComputed;
            cut += last.Kind == ExitKind.BudgetCut ? 1 : 0;
            unanswered += last.Prediction is null ? 1 : 0;
            correct += last.Prediction is { } p && p.ClassIndex == data.Labels[i] ? 1 : 0;
        }

        return new AnytimePoint(correct / (double)count, totalMs / count, cut / (double)count, unanswered / (double)count, exits / count);
    }

    /// <summary>Milliseconds of preprocessed image <paramref name="index"/> through the engine's first-exit path.</summary>
    /// <param name="frame">A buffer of one image's bytes, reused across calls.</param>
    private async Task<double> TimeFrameAsync(float[] inputs, int index, ExitPolicy policy, byte[] frame, CancellationToken cancellationToken)
    {
        // The tensor source hands the preprocessed image over as is, so only the stages and the policy are timed.
        var pre = _engine.Preprocessor;
        var length = pre.TensorLength;
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(inputs.AsSpan(index * length, length)).CopyTo(frame);
        var request = new FrameRequest("t", ImageSource.Tensor(frame, 3, pre.Height, pre.Width), policy, InferenceMode.FirstExit, null, 0);
        var start = Stopwatch.GetTimestamp();
        await foreach (var _ in _engine.ClassifyAsync(request, cancellationToken))
        {
        }

        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    /// <summary>Per-image milliseconds at batch 1 of the main branch alone.</summary>
    public LatencySample TimeMainBranch(float[] inputs, int count) => Time(_main, inputs, count);

    /// <summary>Per-image milliseconds at batch 1 of the baseline trained alone.</summary>
    public LatencySample TimeBaseline(float[] inputs, int count) => Time(_baseline ?? throw new InvalidOperationException("The model has no baseline."), inputs, count);

    private LatencySample Time(MainBranchRunner runner, float[] inputs, int count)
    {
        var length = _engine.Preprocessor.TensorLength;
        var logits = new float[Classes];

        // The first runs warm it up (and capture a graph where there is one): they are not samples.
        for (var i = 0; i < 3; i++)
        {
            runner.Run(inputs.AsMemory(0, length), logits);
        }

        var times = new double[count];
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            runner.Run(inputs.AsMemory(i * length, length), logits);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        return new LatencySample(times);
    }

    public void Dispose()
    {
        _main.Dispose();
        _baseline?.Dispose();
        if (_batchEngine.IsValueCreated && !ReferenceEquals(_batchEngine.Value, _engine))
        {
            _batchEngine.Value.Dispose();
        }

        _engine.Dispose();
    }
}
