using DfbNet.Runtime.Internal;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>
/// Device memory of one GPU through the CUDA runtime (libcudart.so.13, which the CUDA provider needs anyway). Copies
/// run on the legacy default stream; ONNX Runtime's stream is a non-blocking one, so <see cref="Synchronize"/> orders
/// them against its runs (a graph replay ends with its stream synchronised). Every call holds <see cref="Gate"/>.
/// </summary>
public sealed class CudaMemory : IDeviceMemory
{
    private static readonly Lock ProcessGate = new();
    private readonly OrtMemoryInfo _memoryInfo;

    public CudaMemory(int deviceId)
    {
        DeviceId = deviceId;
        _memoryInfo = GpuProviderLoading.DeviceMemory(deviceId);
    }

    public int DeviceId { get; }

    public OrtMemoryInfo MemoryInfo => _memoryInfo;

    public Lock Gate => ProcessGate;

    public DeviceBuffer Allocate(int floats)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(floats, 1);
        lock (ProcessGate)
        {
            try
            {
                CudaRuntime.Check(CudaRuntime.SetDevice(DeviceId), "cudaSetDevice");
            }
            catch (DllNotFoundException ex)
            {
                // Allocation comes first in every use, so this is where a missing runtime shows.
                throw new DeviceMemoryException("Captured graphs need the CUDA 13 runtime (libcudart.so.13) on the library path: " + ex.Message, ex);
            }

            CudaRuntime.Check(CudaRuntime.Malloc(out var pointer, (nuint)floats * sizeof(float)), "cudaMalloc");
            return new DeviceBuffer(this, pointer, floats);
        }
    }

    public unsafe void CopyFromHost(DeviceBuffer destination, ReadOnlySpan<float> source)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(source.Length, destination.Length, nameof(source));
        fixed (float* from = source)
        {
            using var scope = ProcessGate.EnterScope();
            CudaRuntime.Check(CudaRuntime.Memcpy(destination.Pointer, (IntPtr)from, (nuint)source.Length * sizeof(float), CudaRuntime.MemcpyDefault), "cudaMemcpy (host to device)");
        }
    }

    public unsafe void CopyToHost(Span<float> destination, DeviceBuffer source)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(destination.Length, source.Length, nameof(destination));
        fixed (float* to = destination)
        {
            using var scope = ProcessGate.EnterScope();
            CudaRuntime.Check(CudaRuntime.Memcpy((IntPtr)to, source.Pointer, (nuint)destination.Length * sizeof(float), CudaRuntime.MemcpyDefault), "cudaMemcpy (device to host)");
        }
    }

    public void Copy(DeviceBuffer destination, DeviceBuffer source)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNotEqual(destination.Length, source.Length, nameof(destination));
        using var scope = ProcessGate.EnterScope();
        CudaRuntime.Check(CudaRuntime.Memcpy(destination.Pointer, source.Pointer, (nuint)source.Length * sizeof(float), CudaRuntime.MemcpyDefault), "cudaMemcpy (device to device)");
    }

    public void Synchronize()
    {
        // The whole device: ONNX Runtime's streams as well as the copies, so nothing of one frame is in flight when the
        // gate passes to the next (only captured runs use the GPU meanwhile, all behind the gate).
        using var scope = ProcessGate.EnterScope();
        CudaRuntime.Check(CudaRuntime.DeviceSynchronize(), "cudaDeviceSynchronize");
    }

    // Called from SafeHandle.ReleaseHandle (perhaps on the finalizer thread), which must not throw: a free that fails on a
    // failing device has nowhere to report to.
    void IDeviceMemory.Free(IntPtr pointer)
    {
        using var scope = ProcessGate.EnterScope();
        _ = CudaRuntime.Free(pointer);
    }
}
