using DfbNet.Runtime.Internal;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>
/// A non-blocking CUDA stream of one stage, with pinned staging memory for its host copies (a copy from pageable
/// memory cannot be queued; one from pinned memory can, and is faster).
/// </summary>
internal sealed class CudaStream : DeviceStream
{
    private readonly int _deviceId;
    private readonly CudaHandle _stream;
    private CudaHandle? _upload;
    private CudaHandle? _download;
    private int _uploadFloats;
    private int _downloadFloats;
    private bool _uploadInFlight;

    public CudaStream(int deviceId)
    {
        _deviceId = deviceId;
        var error = CudaRuntime.StreamCreateWithFlags(out var stream, CudaRuntime.StreamNonBlocking);
        _stream = CudaHandle.Own(error == 0 ? stream : IntPtr.Zero, CudaHandleKind.Stream);
        CudaRuntime.Check(error, "cudaStreamCreateWithFlags");
    }

    public override IntPtr Handle => _stream.Value;

    public override unsafe void Upload(DeviceBuffer destination, ReadOnlySpan<float> source)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(source.Length, destination.Length, nameof(source));

        // The staging buffer is reused: the previous upload must have left it.
        if (_uploadInFlight)
        {
            Synchronize();
        }

        var staging = Staging(ref _upload, ref _uploadFloats, source.Length);
        source.CopyTo(new Span<float>((void*)staging, source.Length));
        CudaRuntime.Check(CudaRuntime.MemcpyAsync(destination.Pointer, staging, (nuint)source.Length * sizeof(float), CudaRuntime.MemcpyDefault, Handle), "cudaMemcpyAsync (host to device)");
        _uploadInFlight = true;
    }

    public override void Copy(DeviceBuffer destination, DeviceBuffer source)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNotEqual(destination.Length, source.Length, nameof(destination));
        CudaRuntime.Check(CudaRuntime.MemcpyAsync(destination.Pointer, source.Pointer, (nuint)source.Length * sizeof(float), CudaRuntime.MemcpyDefault, Handle), "cudaMemcpyAsync (device to device)");
    }

    public override void Copy(DeviceBuffer destination, int destinationOffset, DeviceBuffer source, int sourceOffset, int count)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(source);
        CheckRange(destination, destinationOffset, count);
        CheckRange(source, sourceOffset, count);
        CudaRuntime.Check(CudaRuntime.MemcpyAsync(destination.Pointer + (destinationOffset * sizeof(float)), source.Pointer + (sourceOffset * sizeof(float)), (nuint)count * sizeof(float), CudaRuntime.MemcpyDefault, Handle), "cudaMemcpyAsync (device to device)");
    }

    public override unsafe void Download(Span<float> destination, DeviceBuffer source)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(destination.Length, source.Length, nameof(destination));
        var staging = Staging(ref _download, ref _downloadFloats, destination.Length);
        CudaRuntime.Check(CudaRuntime.MemcpyAsync(staging, source.Pointer, (nuint)destination.Length * sizeof(float), CudaRuntime.MemcpyDefault, Handle), "cudaMemcpyAsync (device to host)");
        Synchronize();
        new ReadOnlySpan<float>((void*)staging, destination.Length).CopyTo(destination);
    }

    public override CapturedGraph Capture(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        Synchronize();
        CudaRuntime.Check(CudaRuntime.SetDevice(_deviceId), "cudaSetDevice");
        var begin = CudaRuntime.StreamBeginCapture(Handle, CudaRuntime.CaptureModeThreadLocal);
        if (begin != 0)
        {
            _ = CudaRuntime.GetLastError();
            throw new GraphCaptureException(CudaRuntime.Describe(begin, "cudaStreamBeginCapture"));
        }

        Exception? failure = null;
        try
        {
            work();
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        // Always ended, so that the stream leaves capture mode whatever the work did.
        var end = CudaRuntime.StreamEndCapture(Handle, out var graph);
        try
        {
            if (failure is not null || end != 0)
            {
                _ = CudaRuntime.GetLastError();
                var reason = failure is not null ? $"the run failed while capturing: {failure.Message}" : CudaRuntime.Describe(end, "cudaStreamEndCapture");
                throw new GraphCaptureException(reason, failure ?? new DeviceMemoryException(reason));
            }

            // A run that queued nothing here ran on another stream: replaying this graph would do nothing.
            nuint nodes = 0;
            CudaRuntime.Check(CudaRuntime.GraphGetNodes(graph, IntPtr.Zero, ref nodes), "cudaGraphGetNodes");
            if (nodes == 0)
            {
                throw new GraphCaptureException("the run queued no work on the stage's stream");
            }

            var error = CudaRuntime.GraphInstantiateWithFlags(out var exec, graph, 0);
            var handle = CudaHandle.Own(error == 0 ? exec : IntPtr.Zero, CudaHandleKind.GraphExec);
            if (error != 0)
            {
                _ = CudaRuntime.GetLastError();
                throw new GraphCaptureException(CudaRuntime.Describe(error, "cudaGraphInstantiateWithFlags"));
            }

            return new CudaGraph(handle, (int)nodes);
        }
        finally
        {
            if (graph != IntPtr.Zero)
            {
                _ = CudaRuntime.GraphDestroy(graph);
            }
        }
    }

    public override void Launch(CapturedGraph graph)
    {
        var cuda = graph as CudaGraph ?? throw new ArgumentException("Not a CUDA graph.", nameof(graph));
        CudaRuntime.Check(CudaRuntime.GraphLaunch(cuda.Exec.Value, Handle), "cudaGraphLaunch");
    }

    public override void Synchronize()
    {
        CudaRuntime.Check(CudaRuntime.StreamSynchronize(Handle), "cudaStreamSynchronize");
        _uploadInFlight = false;
    }

    private static void CheckRange(DeviceBuffer buffer, int offset, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset + count, buffer.Length, nameof(count));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // Nothing may still read the staging memory when it is freed.
            _ = CudaRuntime.StreamSynchronize(_stream.DangerousGetHandle());
            _upload?.Dispose();
            _download?.Dispose();
            _stream.Dispose();
        }
    }

    private static IntPtr Staging(ref CudaHandle? buffer, ref int floats, int needed)
    {
        if (buffer is null || floats < needed)
        {
            buffer?.Dispose();
            buffer = null;
            var error = CudaRuntime.MallocHost(out var pointer, (nuint)needed * sizeof(float));
            CudaRuntime.Check(error, "cudaMallocHost");
            buffer = CudaHandle.Own(pointer, CudaHandleKind.PinnedHostMemory);
            floats = needed;
        }

        return buffer.Value;
    }

    private sealed class CudaGraph(CudaHandle exec, int nodes) : CapturedGraph
    {
        public CudaHandle Exec { get; } = exec;

        public int Nodes { get; } = nodes;

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Exec.Dispose();
            }
        }
    }
}
