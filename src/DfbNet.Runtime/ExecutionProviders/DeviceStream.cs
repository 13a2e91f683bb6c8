namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>
/// One stage's queue of work on its device: the stream its session runs on (ONNX Runtime is given it), the copies
/// around each replay, and the capture and replay of the stage's graph. Work is ordered on the stream; only
/// <see cref="Download"/> and <see cref="Synchronize"/> wait for it. Not for use by several threads at once.
/// </summary>
internal abstract class DeviceStream : IDisposable
{
    private bool _disposed;

    /// <summary>The native stream, as ONNX Runtime's <c>user_compute_stream</c> takes it (zero where there is none).</summary>
    public abstract IntPtr Handle { get; }

    /// <summary>Queues a copy of host values to the start of <paramref name="destination"/>; <paramref name="source"/>
    /// may be reused on return (the values are staged).</summary>
    public abstract void Upload(DeviceBuffer destination, ReadOnlySpan<float> source);

    /// <summary>Queues a copy of all of <paramref name="source"/> to <paramref name="destination"/> (same length).</summary>
    public abstract void Copy(DeviceBuffer destination, DeviceBuffer source);

    /// <summary>Queues a copy of <paramref name="count"/> values from <paramref name="source"/> at
    /// <paramref name="sourceOffset"/> to <paramref name="destination"/> at <paramref name="destinationOffset"/> (offsets
    /// in floats): one item of a batch in or out of a batch-sized buffer.</summary>
    public abstract void Copy(DeviceBuffer destination, int destinationOffset, DeviceBuffer source, int sourceOffset, int count);

    /// <summary>Queues a copy of the first <c>destination.Length</c> values of <paramref name="source"/>, waits for all
    /// work on the stream, and leaves the values in <paramref name="destination"/>.</summary>
    public abstract void Download(Span<float> destination, DeviceBuffer source);

    /// <summary>
    /// Records the device work that <paramref name="work"/> queues on this stream as a graph, without running it.
    /// </summary>
    /// <exception cref="GraphCaptureException">The work cannot be captured (it waited on the device, left the stream,
    /// or queued nothing on it); the stream is usable again.</exception>
    public abstract CapturedGraph Capture(Action work);

    /// <summary>Queues one replay of <paramref name="graph"/>.</summary>
    public abstract void Launch(CapturedGraph graph);

    /// <summary>Waits for all work on the stream.</summary>
    public abstract void Synchronize();

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);
}

/// <summary>A captured graph, ready to replay on the stream that captured it; disposed once. Made only by the
/// streams of this assembly.</summary>
internal abstract class CapturedGraph : IDisposable
{
    private bool _disposed;

    internal CapturedGraph()
    {
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);
}

/// <summary>A stage's graph could not be captured, or its replay did not match a plain run; the stage runs without.</summary>
internal sealed class GraphCaptureException : Exception
{
    public GraphCaptureException(string message)
        : base(message)
    {
    }

    public GraphCaptureException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public GraphCaptureException()
    {
    }
}
