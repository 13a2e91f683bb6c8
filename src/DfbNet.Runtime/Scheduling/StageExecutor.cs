using System.Buffers;
using DfbNet.Runtime.ExecutionProviders;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.Scheduling;

/// <summary>How a model's tensors travel between stages; chosen once per engine.</summary>
internal enum StageDataPath
{
    /// <summary>Pooled host arrays: the CPU path.</summary>
    Host,

    /// <summary>Bound OrtValues (IOBinding): features stay where the provider keeps them; batch 1.</summary>
    Bound,

    /// <summary>Pooled device buffers through each stage's captured CUDA graphs, one per batch bucket (padded).</summary>
    Captured,
}

/// <summary>
/// Runs one stage over a batch of frames and nothing else: it reads each frame's current tensor, writes the batch's
/// logits, and leaves each frame holding the stage's feature for the next stage. Decisions (who exits, who goes on)
/// are the caller's; so are errors, which it throws.
/// </summary>
internal sealed class StageExecutor
{
    private readonly StageRunner[] _stages;

    public StageExecutor(StageRunner[] stages, StageDataPath path)
    {
        _stages = stages;
        Path = path;
    }

    public StageDataPath Path { get; }

    /// <summary>The model's stages.</summary>
    public int StageCount => _stages.Length;

    /// <summary>The largest batch a stage can run on this path.</summary>
    public int MaxBatch(int stage, int configured) => Path switch
    {
        StageDataPath.Host => Math.Min(configured, _stages[stage].MaxBatch),
        StageDataPath.Captured => Math.Min(configured, _stages[stage].CapturedMaxBatch),
        _ => 1,
    };

    /// <summary>Runs <paramref name="stage"/> over <paramref name="batch"/>; the logits of frame i land at i * K of <paramref name="logits"/>.</summary>
    public void Run(int stage, List<ScheduledFrame> batch, float[] logits, RunOptions runOptions)
    {
        var runner = _stages[stage];
        switch (Path)
        {
            case StageDataPath.Captured:
                RunCaptured(runner, batch, logits, runOptions);
                break;
            case StageDataPath.Bound:
                RunBound(runner, batch[0], logits, runOptions);
                break;
            default:
                if (batch.Count == 1)
                {
                    RunHostSingle(runner, batch[0], logits, runOptions);
                }
                else
                {
                    RunHostBatch(runner, batch, logits, runOptions);
                }

                break;
        }
    }

    /// <summary>Gives back whatever tensor a frame still holds.</summary>
    public static void Release(ScheduledFrame frame)
    {
        if (frame.Host is { } host)
        {
            ArrayPool<float>.Shared.Return(host);
            frame.Host = null;
        }

        frame.Bound?.Dispose();
        frame.Bound = null;
        frame.Device?.Release();
        frame.Device = null;
    }

    private static void RunHostSingle(StageRunner runner, ScheduledFrame frame, float[] logits, RunOptions runOptions)
    {
        var pool = ArrayPool<float>.Shared;
        var feature = runner.HasFeature ? pool.Rent(runner.FeatureLength) : null;
        try
        {
            runner.Run(frame.Host!, 1, logits, feature ?? Memory<float>.Empty, runOptions);
        }
        catch
        {
            if (feature is not null)
            {
                pool.Return(feature);
            }

            throw;
        }

        pool.Return(frame.Host!);
        frame.Host = feature;
    }

    private static void RunHostBatch(StageRunner runner, List<ScheduledFrame> batch, float[] logits, RunOptions runOptions)
    {
        // One contiguous input and output per batch: the frames' tensors are gathered in and the features scattered back
        // out (a few microseconds per frame against a stage run of a fraction of a millisecond).
        var pool = ArrayPool<float>.Shared;
        var n = batch.Count;
        var inLength = runner.InputLength;
        var featureLength = runner.FeatureLength;
        var input = pool.Rent(n * inLength);
        var features = runner.HasFeature ? pool.Rent(n * featureLength) : null;
        try
        {
            for (var i = 0; i < n; i++)
            {
                batch[i].Host.AsSpan(0, inLength).CopyTo(input.AsSpan(i * inLength, inLength));
            }

            runner.Run(input, n, logits, features ?? Memory<float>.Empty, runOptions);
            for (var i = 0; i < n; i++)
            {
                var frame = batch[i];
                pool.Return(frame.Host!);
                frame.Host = null;
                if (features is not null)
                {
                    var own = pool.Rent(featureLength);
                    features.AsSpan(i * featureLength, featureLength).CopyTo(own);
                    frame.Host = own;
                }
            }
        }
        finally
        {
            pool.Return(input);
            if (features is not null)
            {
                pool.Return(features);
            }
        }
    }

    private static void RunBound(StageRunner runner, ScheduledFrame frame, float[] logits, RunOptions runOptions)
    {
        // Stage 1's input goes in from the host; every later feature stays where its stage's provider keeps it.
        frame.Bound ??= OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, frame.Host.AsMemory(0, runner.InputLength), [1, .. runner.InputShape]);
        var next = runner.RunBound(frame.Bound, 1, logits, runOptions);
        frame.Bound.Dispose();
        frame.Bound = next;
        ReturnHost(frame);
    }

    private static void RunCaptured(StageRunner runner, List<ScheduledFrame> batch, float[] logits, RunOptions runOptions)
    {
        // Not stopped half-way: a replay cannot be, and takes at most a few milliseconds.
        var n = batch.Count;
        var features = ArrayPool<DeviceBuffer?>.Shared.Rent(n);
        if (batch[0].Device is null)
        {
            // Stage 1: the frames' host inputs, gathered back to back (a lone frame's array as it is).
            var pool = ArrayPool<float>.Shared;
            var length = runner.InputLength;
            var input = n == 1 ? batch[0].Host! : pool.Rent(n * length);
            try
            {
                for (var i = 0; n > 1 && i < n; i++)
                {
                    batch[i].Host.AsSpan(0, length).CopyTo(input.AsSpan(i * length, length));
                }

                runner.RunCapturedBatch(input, null, n, logits, features, runOptions);
            }
            finally
            {
                if (n > 1)
                {
                    pool.Return(input);
                }
            }
        }
        else
        {
            var inputs = ArrayPool<DeviceBuffer>.Shared.Rent(n);
            try
            {
                for (var i = 0; i < n; i++)
                {
                    inputs[i] = batch[i].Device!;
                }

                runner.RunCapturedBatch(null, inputs, n, logits, features, runOptions);
            }
            finally
            {
                ArrayPool<DeviceBuffer>.Shared.Return(inputs, clearArray: true);
            }
        }

        for (var i = 0; i < n; i++)
        {
            var frame = batch[i];
            frame.Device?.Release();
            frame.Device = features[i];
            ReturnHost(frame);
        }

        ArrayPool<DeviceBuffer?>.Shared.Return(features, clearArray: true);
    }

    private static void ReturnHost(ScheduledFrame frame)
    {
        if (frame.Host is { } host)
        {
            ArrayPool<float>.Shared.Return(host);
            frame.Host = null;
        }
    }
}
