using DfbNet.Runtime.Internal;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>
/// Device memory of one GPU through the CUDA runtime (libcudart.so.13, which the CUDA provider needs anyway), and the
/// streams its captured stages run on (where every copy is made).
/// </summary>
internal sealed class CudaMemory : IDeviceMemory
{
    private readonly OrtMemoryInfo _memoryInfo;

    public CudaMemory(int deviceId)
    {
        DeviceId = deviceId;
        _memoryInfo = GpuProviderLoading.DeviceMemory(deviceId);
    }

    public int DeviceId { get; }

    public OrtMemoryInfo MemoryInfo => _memoryInfo;

    public DeviceBuffer Allocate(int floats)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(floats, 1);
        SetDevice();
        CudaRuntime.Check(CudaRuntime.Malloc(out var pointer, (nuint)floats * sizeof(float)), "cudaMalloc");
        return new DeviceBuffer(this, pointer, floats);
    }

    public DeviceStream CreateStream()
    {
        SetDevice();
        return new CudaStream(DeviceId);
    }

    // Called from SafeHandle.ReleaseHandle (perhaps on the finalizer thread), which must not throw: a free that fails on a
    // failing device has nowhere to report to.
    void IDeviceMemory.Free(IntPtr pointer)
    {
        _ = CudaRuntime.Free(pointer);
    }

    private void SetDevice()
    {
        try
        {
            CudaRuntime.Check(CudaRuntime.SetDevice(DeviceId), "cudaSetDevice");
        }
        catch (DllNotFoundException ex)
        {
            // A stream or a buffer comes first in every use, so this is where a missing runtime shows.
            throw new DeviceMemoryException("The CUDA 13 runtime (libcudart.so.13), which the GPU providers and their captured graphs need, is not on the library path: " + ex.Message, ex);
        }
    }
}
