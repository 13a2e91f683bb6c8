using System.Runtime.InteropServices;
using DfbNet.Runtime.ExecutionProviders;

namespace DfbNet.Runtime.Internal;

/// <summary>The few CUDA runtime calls that captured graphs need (allocation and copies of their fixed buffers).</summary>
internal static partial class CudaRuntime
{
    private const string Library = "libcudart.so.13";

    /// <summary>cudaMemcpyDefault: the direction follows from the pointers (unified virtual addressing).</summary>
    public const int MemcpyDefault = 4;

    [LibraryImport(Library, EntryPoint = "cudaSetDevice")]
    public static partial int SetDevice(int device);

    [LibraryImport(Library, EntryPoint = "cudaMalloc")]
    public static partial int Malloc(out IntPtr pointer, nuint bytes);

    [LibraryImport(Library, EntryPoint = "cudaFree")]
    public static partial int Free(IntPtr pointer);

    [LibraryImport(Library, EntryPoint = "cudaMemcpy")]
    public static partial int Memcpy(IntPtr destination, IntPtr source, nuint bytes, int kind);

    [LibraryImport(Library, EntryPoint = "cudaDeviceSynchronize")]
    public static partial int DeviceSynchronize();

    [LibraryImport(Library, EntryPoint = "cudaGetErrorString")]
    private static partial IntPtr GetErrorString(int error);

    public static void Check(int error, string call)
    {
        if (error != 0)
        {
            throw new DeviceMemoryException($"{call} failed: CUDA error {error} ({Marshal.PtrToStringAnsi(GetErrorString(error))}).");
        }
    }
}
