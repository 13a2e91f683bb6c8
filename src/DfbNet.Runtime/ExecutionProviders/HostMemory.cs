using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>
/// Host memory behind the <see cref="IDeviceMemory"/> interface: the fixed-buffer path of captured graphs on the CPU
/// provider, where it gives the same logits as the plain path (tests run it so; no GPU is needed). Its streams do
/// their work at once, and a "captured graph" is the captured work itself, run again on each replay.
/// </summary>
internal sealed class HostMemory : IDeviceMemory
{
    public static HostMemory Instance { get; } = new();

    public OrtMemoryInfo MemoryInfo => OrtMemoryInfo.DefaultInstance;

    public unsafe DeviceBuffer Allocate(int floats)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(floats, 1);
        var pointer = NativeMemory.AlignedAlloc((nuint)floats * sizeof(float), 64);
        return new DeviceBuffer(this, (IntPtr)pointer, floats);
    }

    public DeviceStream CreateStream() => new HostStream();

    unsafe void IDeviceMemory.Free(IntPtr pointer) => NativeMemory.AlignedFree((void*)pointer);
}

/// <summary>A <see cref="DeviceStream"/> over host memory: every call completes before it returns.</summary>
internal sealed class HostStream : DeviceStream
{
    public override IntPtr Handle => IntPtr.Zero;

    public override void Upload(DeviceBuffer destination, ReadOnlySpan<float> source)
    {
        ArgumentNullException.ThrowIfNull(destination);
        source.CopyTo(Values(destination));
    }

    public override void Copy(DeviceBuffer destination, DeviceBuffer source)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNotEqual(destination.Length, source.Length, nameof(destination));
        Values(source).CopyTo(Values(destination));
    }

    public override void Copy(DeviceBuffer destination, int destinationOffset, DeviceBuffer source, int sourceOffset, int count)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(source);
        Values(source).Slice(sourceOffset, count).CopyTo(Values(destination).Slice(destinationOffset, count));
    }

    public override void Download(Span<float> destination, DeviceBuffer source)
    {
        ArgumentNullException.ThrowIfNull(source);
        Values(source)[..destination.Length].CopyTo(destination);
    }

    public override CapturedGraph Capture(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);

        // The host code of a captured run runs during a real capture too (only the device work is deferred).
        try
        {
            work();
        }
        catch (Exception ex)
        {
            throw new GraphCaptureException($"the run failed while capturing: {ex.Message}", ex);
        }

        return new HostGraph(work);
    }

    public override void Launch(CapturedGraph graph) => (graph as HostGraph ?? throw new ArgumentException("Not a host graph.", nameof(graph))).Work();

    public override void Synchronize()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }

    private static unsafe Span<float> Values(DeviceBuffer buffer) => new((void*)buffer.Pointer, buffer.Length);

    private sealed class HostGraph(Action work) : CapturedGraph
    {
        public Action Work { get; } = work;

        protected override void Dispose(bool disposing)
        {
        }
    }
}
