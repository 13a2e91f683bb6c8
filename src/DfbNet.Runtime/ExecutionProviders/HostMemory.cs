using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>
/// Host memory behind the <see cref="IDeviceMemory"/> interface: the fixed-buffer path of captured graphs on the CPU
/// provider, where it gives the same logits as the plain path (tests run it so; no GPU is needed).
/// </summary>
public sealed class HostMemory : IDeviceMemory
{
    public static HostMemory Instance { get; } = new();

    public OrtMemoryInfo MemoryInfo => OrtMemoryInfo.DefaultInstance;

    public Lock Gate { get; } = new();

    public unsafe DeviceBuffer Allocate(int floats)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(floats, 1);
        var pointer = NativeMemory.AlignedAlloc((nuint)floats * sizeof(float), 64);
        return new DeviceBuffer(this, (IntPtr)pointer, floats);
    }

    public unsafe void CopyFromHost(DeviceBuffer destination, ReadOnlySpan<float> source)
    {
        ArgumentNullException.ThrowIfNull(destination);
        source.CopyTo(new Span<float>((void*)destination.Pointer, destination.Length));
    }

    public unsafe void CopyToHost(Span<float> destination, DeviceBuffer source)
    {
        ArgumentNullException.ThrowIfNull(source);
        new ReadOnlySpan<float>((void*)source.Pointer, source.Length)[..destination.Length].CopyTo(destination);
    }

    public unsafe void Copy(DeviceBuffer destination, DeviceBuffer source)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(source);
        new ReadOnlySpan<float>((void*)source.Pointer, source.Length).CopyTo(new Span<float>((void*)destination.Pointer, destination.Length));
    }

    public void Synchronize()
    {
    }

    unsafe void IDeviceMemory.Free(IntPtr pointer) => NativeMemory.AlignedFree((void*)pointer);
}
