using System.Runtime.InteropServices;
using DfbNet.Runtime.ExecutionProviders;

namespace DfbNet.Runtime.Internal;

/// <summary>
/// The CUDA runtime calls that captured graphs need: the fixed buffers, the stage's own stream and the copies on it,
/// pinned staging memory, and the capture and replay of a graph.
/// </summary>
internal static partial class CudaRuntime
{
    private const string Library = "libcudart.so.13";

    /// <summary>cudaMemcpyDefault: the direction follows from the pointers (unified virtual addressing).</summary>
    public const int MemcpyDefault = 4;

    /// <summary>cudaStreamNonBlocking: no implicit synchronisation with the legacy default stream, so that another
    /// thread's copy on that stream can neither wait on a stage's work nor break its capture.</summary>
    public const uint StreamNonBlocking = 1;

    /// <summary>cudaStreamCaptureModeThreadLocal: only this thread's unsafe calls are refused during a capture; other
    /// threads (other stages, other models) go on using the GPU.</summary>
    public const int CaptureModeThreadLocal = 1;

    [LibraryImport(Library, EntryPoint = "cudaSetDevice")]
    public static partial int SetDevice(int device);

    [LibraryImport(Library, EntryPoint = "cudaMalloc")]
    public static partial int Malloc(out IntPtr pointer, nuint bytes);

    [LibraryImport(Library, EntryPoint = "cudaFree")]
    public static partial int Free(IntPtr pointer);

    [LibraryImport(Library, EntryPoint = "cudaMallocHost")]
    public static partial int MallocHost(out IntPtr pointer, nuint bytes);

    [LibraryImport(Library, EntryPoint = "cudaFreeHost")]
    public static partial int FreeHost(IntPtr pointer);

    [LibraryImport(Library, EntryPoint = "cudaMemcpyAsync")]
    public static partial int MemcpyAsync(IntPtr destination, IntPtr source, nuint bytes, int kind, IntPtr stream);

    [LibraryImport(Library, EntryPoint = "cudaStreamCreateWithFlags")]
    public static partial int StreamCreateWithFlags(out IntPtr stream, uint flags);

    [LibraryImport(Library, EntryPoint = "cudaStreamDestroy")]
    public static partial int StreamDestroy(IntPtr stream);

    [LibraryImport(Library, EntryPoint = "cudaStreamSynchronize")]
    public static partial int StreamSynchronize(IntPtr stream);

    [LibraryImport(Library, EntryPoint = "cudaStreamBeginCapture")]
    public static partial int StreamBeginCapture(IntPtr stream, int mode);

    [LibraryImport(Library, EntryPoint = "cudaStreamEndCapture")]
    public static partial int StreamEndCapture(IntPtr stream, out IntPtr graph);

    [LibraryImport(Library, EntryPoint = "cudaGraphGetNodes")]
    public static partial int GraphGetNodes(IntPtr graph, IntPtr nodes, ref nuint count);

    [LibraryImport(Library, EntryPoint = "cudaGraphInstantiateWithFlags")]
    public static partial int GraphInstantiateWithFlags(out IntPtr graphExec, IntPtr graph, ulong flags);

    [LibraryImport(Library, EntryPoint = "cudaGraphDestroy")]
    public static partial int GraphDestroy(IntPtr graph);

    [LibraryImport(Library, EntryPoint = "cudaGraphLaunch")]
    public static partial int GraphLaunch(IntPtr graphExec, IntPtr stream);

    [LibraryImport(Library, EntryPoint = "cudaGraphExecDestroy")]
    public static partial int GraphExecDestroy(IntPtr graphExec);

    /// <summary>Reads and clears the thread's last error, so that a refused capture's error is not reported later by
    /// whoever checks next (ONNX Runtime checks after its launches).</summary>
    [LibraryImport(Library, EntryPoint = "cudaGetLastError")]
    public static partial int GetLastError();

    [LibraryImport(Library, EntryPoint = "cudaGetErrorString")]
    private static partial IntPtr GetErrorString(int error);

    public static void Check(int error, string call)
    {
        if (error != 0)
        {
            throw new DeviceMemoryException(Describe(error, call));
        }
    }

    public static string Describe(int error, string call) => $"{call} failed: CUDA error {error} ({Marshal.PtrToStringAnsi(GetErrorString(error))}).";
}
