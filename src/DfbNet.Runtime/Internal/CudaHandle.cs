using System.Runtime.InteropServices;

namespace DfbNet.Runtime.Internal;

/// <summary>A native CUDA object, released exactly once: by Dispose, or by the finalizer if its owner was lost.</summary>
internal sealed class CudaHandle : SafeHandle
{
    private CudaHandle(IntPtr handle, CudaHandleKind kind)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        Kind = kind;
        SetHandle(handle);
    }

    public CudaHandleKind Kind { get; }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>The native value; valid while not disposed.</summary>
    public IntPtr Value => IsClosed ? throw new ObjectDisposedException(Kind.ToString()) : handle;

    /// <summary>Takes ownership of <paramref name="handle"/> (a failed call's zero makes an invalid, inert handle).</summary>
    public static CudaHandle Own(IntPtr handle, CudaHandleKind kind) => new(handle, kind);

    // Runs on the finalizer thread when an owner was lost, so it must not throw: a release that fails on a failing
    // device has nowhere to report to.
    protected override bool ReleaseHandle()
    {
        _ = Kind switch
        {
            CudaHandleKind.Stream => CudaRuntime.StreamDestroy(handle),
            CudaHandleKind.PinnedHostMemory => CudaRuntime.FreeHost(handle),
            CudaHandleKind.GraphExec => CudaRuntime.GraphExecDestroy(handle),
            _ => 0,
        };
        return true;
    }
}

internal enum CudaHandleKind
{
    Stream,
    PinnedHostMemory,
    GraphExec,
}
