using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>
/// Memory where a provider keeps tensors, and the streams on which captured graphs run: a replayed graph reads and
/// writes the addresses it was captured with, so its inputs and outputs live in fixed buffers and each frame's data is
/// copied through them on the stage's stream.
/// </summary>
internal interface IDeviceMemory
{
    /// <summary>How ONNX Runtime names this memory when a buffer is bound.</summary>
    OrtMemoryInfo MemoryInfo { get; }

    /// <summary>A buffer of <paramref name="floats"/> single-precision values, owned by the caller.</summary>
    /// <exception cref="DeviceMemoryException">The device is out of memory or failing.</exception>
    DeviceBuffer Allocate(int floats);

    /// <summary>A new stream for one stage's session and its captured graph, owned by the caller.</summary>
    /// <exception cref="DeviceMemoryException">The device or its runtime is missing or failing.</exception>
    DeviceStream CreateStream();

    /// <summary>Frees a buffer; called once per buffer, by <see cref="DeviceBuffer"/>.</summary>
    internal void Free(IntPtr pointer);
}

/// <summary>A copy or allocation on a device failed.</summary>
internal sealed class DeviceMemoryException : Exception
{
    public DeviceMemoryException(string message)
        : base(message)
    {
    }

    public DeviceMemoryException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public DeviceMemoryException()
    {
    }
}
