using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>
/// A buffer of floats in an <see cref="IDeviceMemory"/>, freed exactly once: by <see cref="IDisposable.Dispose"/>, or by
/// the finalizer if a caller lost it.
/// </summary>
internal sealed class DeviceBuffer : SafeHandle
{
    private readonly IDeviceMemory _memory;

    internal DeviceBuffer(IDeviceMemory memory, IntPtr pointer, int length)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        _memory = memory;
        Length = length;
        SetHandle(pointer);
    }

    /// <summary>Floats in the buffer.</summary>
    public int Length { get; }

    /// <summary>The memory the buffer lives in.</summary>
    public IDeviceMemory Memory => _memory;

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>The pool the buffer goes back to (null: not pooled).</summary>
    internal DeviceBufferPool? Pool { get; set; }

    /// <summary>The device address; valid while the buffer is not disposed.</summary>
    public IntPtr Pointer => IsClosed ? throw new ObjectDisposedException(nameof(DeviceBuffer)) : handle;

    /// <summary>A tensor over the whole buffer (no copy): the caller disposes it before the buffer.</summary>
    public OrtValue CreateTensor(long[] shape) =>
        OrtValue.CreateTensorValueWithData(_memory.MemoryInfo, TensorElementType.Float, shape, Pointer, Length * sizeof(float));

    /// <summary>Back to the pool it came from, or freed when it has none.</summary>
    public void Release()
    {
        if (Pool is { } pool)
        {
            pool.Return(this);
        }
        else
        {
            Dispose();
        }
    }

    protected override bool ReleaseHandle()
    {
        _memory.Free(handle);
        return true;
    }
}

/// <summary>Buffers of one size in one memory, reused across frames so that a frame allocates no device memory.</summary>
internal sealed class DeviceBufferPool : IDisposable
{
    private readonly IDeviceMemory _memory;
    private readonly System.Collections.Concurrent.ConcurrentBag<DeviceBuffer> _free = [];
    private volatile bool _disposed;

    public DeviceBufferPool(IDeviceMemory memory, int length)
    {
        _memory = memory;
        Length = length;
    }

    public int Length { get; }

    public DeviceBuffer Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_free.TryTake(out var buffer))
        {
            buffer = _memory.Allocate(Length);
            buffer.Pool = this;
        }

        return buffer;
    }

    public void Return(DeviceBuffer buffer)
    {
        if (_disposed)
        {
            buffer.Dispose();
            return;
        }

        _free.Add(buffer);
    }

    public void Dispose()
    {
        _disposed = true;
        while (_free.TryTake(out var buffer))
        {
            buffer.Dispose();
        }
    }
}
