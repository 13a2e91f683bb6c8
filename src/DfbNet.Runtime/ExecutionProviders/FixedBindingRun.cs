using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>
/// A stage captured as one graph over fixed buffers, replayed per frame. DfbNet captures the graph itself, on the
/// stage's own stream, rather than letting ONNX Runtime do it: a replay is then one launch, not a session run, and one
/// graph serves every thread (ONNX Runtime keeps its graphs per calling thread and captures in CUDA's global mode, in
/// which any other thread's CUDA call breaks the capture). The graph is made when this object is: two plain runs
/// settle ONNX Runtime's kernel choices and memory plan, a third is captured, and a replay must match a plain run on
/// the same input or the stage is not captured. Each frame then copies its input in, replays, copies the feature to a
/// buffer of the caller's and the logits to the host, and waits once. One frame at a time: the buffers are shared.
/// </summary>
internal sealed class FixedBindingRun : IDisposable
{
    /// <summary>Plain runs before the capture: the first chooses kernels and grows the memory arena, the second runs
    /// on the memory plan that every later run repeats.</summary>
    public const int RunsBeforeCapture = 2;

    private readonly Lock _lock = new();
    private readonly StageSession _session;
    private readonly DeviceStream _stream;
    private readonly DeviceBuffer _input;
    private readonly DeviceBuffer _logits;
    private readonly DeviceBuffer? _feature;
    private readonly OrtValue[] _values;
    private readonly OrtIoBinding _binding;
    private readonly CapturedGraph _graph;
    private bool _disposed;

    /// <param name="session">A session whose runs all go through this object, on <paramref name="stream"/>.</param>
    /// <param name="memory">Where the fixed buffers live (the session's device).</param>
    /// <param name="stream">The stream the session runs on; the graph is captured on it and replayed there.</param>
    /// <param name="inputName">The input, shape <paramref name="inputShape"/>.</param>
    /// <param name="logitsName">The logits output, shape <paramref name="logitsShape"/>.</param>
    /// <param name="featureName">The feature output (null when the model has none), shape <paramref name="featureShape"/>.</param>
    /// <exception cref="GraphCaptureException">The stage cannot be captured; the session is unharmed and runs without.</exception>
    public FixedBindingRun(StageSession session, IDeviceMemory memory, DeviceStream stream, string inputName, long[] inputShape, string logitsName, long[] logitsShape, string? featureName = null, long[]? featureShape = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentNullException.ThrowIfNull(logitsShape);
        if (featureName is null != featureShape is null)
        {
            throw new ArgumentException("A feature output needs both a name and a shape.", nameof(featureShape));
        }

        _session = session;
        _stream = stream;
        Batch = checked((int)inputShape[0]);
        var values = new List<OrtValue>(3);
        var buffers = new List<DeviceBuffer>(3);
        try
        {
            _input = Track(buffers, memory.Allocate(StageShapes.ElementCount(inputShape)));
            _logits = Track(buffers, memory.Allocate(StageShapes.ElementCount(logitsShape)));
            _feature = featureShape is null ? null : Track(buffers, memory.Allocate(StageShapes.ElementCount(featureShape)));
            _binding = session.Session.CreateIoBinding();
            values.Add(_input.CreateTensor(inputShape));
            _binding.BindInput(inputName, values[^1]);
            values.Add(_logits.CreateTensor(logitsShape));
            _binding.BindOutput(logitsName, values[^1]);
            if (_feature is not null)
            {
                values.Add(_feature.CreateTensor(featureShape!));
                _binding.BindOutput(featureName!, values[^1]);
            }

            _values = [.. values];
            _graph = CaptureAndCheck();
        }
        catch
        {
            _binding?.Dispose();
            foreach (var value in values)
            {
                value.Dispose();
            }

            foreach (var buffer in buffers)
            {
                buffer.Dispose();
            }

            throw;
        }
    }

    /// <summary>The batch the graph was captured for (the input's first dimension); a run carries up to this many items.</summary>
    public int Batch { get; private init; } = 1;

    /// <summary>
    /// One replay for <paramref name="count"/> items, at most <see cref="Batch"/>: the rows past them hold whatever the
    /// last run left and their outputs are ignored (padding up to the captured batch costs what a full batch does). The
    /// inputs come from the host (<paramref name="hostInput"/>, count items back to back) or from the items' device
    /// buffers (<paramref name="deviceInputs"/>, when not empty); the logits land in <paramref name="logits"/> (count x K),
    /// each item's feature (when the model has one) in its buffer of <paramref name="features"/>. Complete on return; a
    /// replay cannot be stopped part-way.
    /// </summary>
    public void RunBatch(ReadOnlySpan<float> hostInput, ReadOnlySpan<DeviceBuffer> deviceInputs, int count, Span<float> logits, ReadOnlySpan<DeviceBuffer?> features)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Batch);
        if (_feature is not null && features.Length < count)
        {
            throw new ArgumentException("The model has a feature output: every item needs a buffer to receive it.", nameof(features));
        }

        var itemInput = _input.Length / Batch;
        var itemLogits = _logits.Length / Batch;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (deviceInputs.IsEmpty)
            {
                _stream.Upload(_input, hostInput[..(count * itemInput)]);
            }
            else
            {
                for (var i = 0; i < count; i++)
                {
                    _stream.Copy(_input, i * itemInput, deviceInputs[i], 0, itemInput);
                }
            }

            _stream.Launch(_graph);
            if (_feature is not null)
            {
                var itemFeature = _feature.Length / Batch;
                for (var i = 0; i < count; i++)
                {
                    _stream.Copy(features[i]!, 0, _feature, i * itemFeature, itemFeature);
                }
            }

            // Waits for the whole queue: the feature copies too are done before the next replay may overwrite the outputs.
            _stream.Download(logits[..(count * itemLogits)], _logits);
        }
    }

    /// <summary>Copies a device buffer of this stage (its input, or a feature it made) to the host on the stage's stream;
    /// complete on return. For the CPU fallback, whose session reads and writes host memory.</summary>
    public void CopyToHost(Span<float> destination, DeviceBuffer source)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _stream.Download(destination, source);
        }
    }

    /// <summary>Copies host values into a device buffer on the stage's stream; complete on return.</summary>
    public void CopyFromHost(DeviceBuffer destination, ReadOnlySpan<float> source)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _stream.Upload(destination, source);
            _stream.Synchronize();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _stream.Synchronize();
            _graph.Dispose();
            _binding.Dispose();
            foreach (var value in _values)
            {
                value.Dispose();
            }

            _input.Dispose();
            _logits.Dispose();
            _feature?.Dispose();
        }
    }

    private CapturedGraph CaptureAndCheck()
    {
        // A fixed, varied input: the check below compares a replay with a plain run on it.
        var probe = new float[_input.Length];
        for (var i = 0; i < probe.Length; i++)
        {
            probe[i] = ((i * 37) % 101 / 50f) - 1f;
        }

        using var plainOptions = new RunOptions();
        using var captureOptions = new RunOptions();

        // Ending a run with a wait on the stream is not allowed while capturing, and the replays wait once anyway.
        captureOptions.AddRunConfigEntry("disable_synchronize_execution_providers", "1");
        var expected = new float[_logits.Length];
        try
        {
            for (var i = 0; i < RunsBeforeCapture; i++)
            {
                _stream.Upload(_input, probe);
                _stream.Synchronize();
                _session.Run(plainOptions, _binding);
                _stream.Download(expected, _logits);
            }
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or DeviceMemoryException)
        {
            throw new GraphCaptureException($"the runs before the capture failed: {ex.Message}", ex);
        }

        var graph = _stream.Capture(() => _session.Run(captureOptions, _binding));
        try
        {
            // The outputs are cleared first, so that a replay that does nothing cannot pass for one that works.
            var replayed = new float[_logits.Length];
            Array.Fill(replayed, float.NaN);
            _stream.Upload(_logits, replayed);
            _stream.Upload(_input, probe);
            _stream.Launch(graph);
            _stream.Download(replayed, _logits);
            for (var i = 0; i < expected.Length; i++)
            {
                var tolerance = 1e-4f * Math.Max(1f, Math.Abs(expected[i]));
                if (!(Math.Abs(replayed[i] - expected[i]) <= tolerance))
                {
                    throw new GraphCaptureException($"a replay of the captured graph gave logit {i} = {replayed[i]}, a plain run {expected[i]}");
                }
            }

            return graph;
        }
        catch (DeviceMemoryException ex)
        {
            graph.Dispose();
            throw new GraphCaptureException($"the captured graph did not replay: {ex.Message}", ex);
        }
        catch
        {
            graph.Dispose();
            throw;
        }
    }

    private static DeviceBuffer Track(List<DeviceBuffer> buffers, DeviceBuffer buffer)
    {
        buffers.Add(buffer);
        return buffer;
    }
}
