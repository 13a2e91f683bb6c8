using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>
/// Runs a session over one IOBinding whose tensors never move, as a captured CUDA graph requires: the graph is
/// captured on the first runs and then replayed against the same addresses. Each run copies its input into the fixed
/// input buffer, replays, and copies the logits (to the host) and the feature (to a buffer of the caller's) out. Runs
/// hold the memory's <see cref="IDeviceMemory.Gate"/>: the fixed buffers are shared by every frame, and no other CUDA
/// call may run while ONNX Runtime captures.
/// </summary>
public sealed class FixedBindingRun : IDisposable
{
    private readonly StageSession _session;
    private readonly IDeviceMemory _memory;
    private readonly DeviceBuffer _input;
    private readonly DeviceBuffer _logits;
    private readonly DeviceBuffer? _feature;
    private readonly OrtValue[] _values;
    private readonly OrtIoBinding _binding;
    private bool _disposed;

    /// <param name="session">A session whose runs all go through this object (no other run may touch its graph).</param>
    /// <param name="memory">Where the fixed buffers live (the session's device).</param>
    /// <param name="inputName">The input, shape <paramref name="inputShape"/>.</param>
    /// <param name="logitsName">The logits output, shape <paramref name="logitsShape"/>.</param>
    /// <param name="featureName">The feature output (null when the model has none), shape <paramref name="featureShape"/>.</param>
    public FixedBindingRun(StageSession session, IDeviceMemory memory, string inputName, long[] inputShape, string logitsName, long[] logitsShape, string? featureName = null, long[]? featureShape = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentNullException.ThrowIfNull(logitsShape);
        if (featureName is null != featureShape is null)
        {
            throw new ArgumentException("A feature output needs both a name and a shape.", nameof(featureShape));
        }

        _session = session;
        _memory = memory;
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

    public IDeviceMemory Memory => _memory;

    /// <summary>Floats of the input.</summary>
    public int InputLength => _input.Length;

    /// <summary>Floats of the feature output; 0 when there is none.</summary>
    public int FeatureLength => _feature?.Length ?? 0;

    /// <summary>
    /// One run. The input comes from the host (<paramref name="hostInput"/>) or from a device buffer
    /// (<paramref name="deviceInput"/>, when not null); the logits land in <paramref name="logits"/>, the feature (when the
    /// model has one) in <paramref name="feature"/>.
    /// </summary>
    public void Run(ReadOnlySpan<float> hostInput, DeviceBuffer? deviceInput, Span<float> logits, DeviceBuffer? feature, RunOptions runOptions)
    {
        ArgumentNullException.ThrowIfNull(runOptions);
        if (_feature is not null && feature is null)
        {
            throw new ArgumentNullException(nameof(feature), "The model has a feature output: a buffer must receive it.");
        }

        lock (_memory.Gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (deviceInput is null)
            {
                _memory.CopyFromHost(_input, hostInput[.._input.Length]);
            }
            else
            {
                _memory.Copy(_input, deviceInput);
            }

            // The copy must land before the replay reads it: the replay runs on ONNX Runtime's own stream.
            _memory.Synchronize();
            _session.Run(runOptions, _binding);

            // A replay ends with its stream synchronised; the regular runs before the capture need not.
            _memory.Synchronize();
            if (_feature is not null)
            {
                _memory.Copy(feature!, _feature);
            }

            // Issued after the feature copy on the same stream and complete on return, so both are done before the next
            // replay may overwrite the fixed outputs.
            _memory.CopyToHost(logits[.._logits.Length], _logits);
        }
    }

    public void Dispose()
    {
        lock (_memory.Gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
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

    private static DeviceBuffer Track(List<DeviceBuffer> buffers, DeviceBuffer buffer)
    {
        buffers.Add(buffer);
        return buffer;
    }

}
