namespace DfbNet.Runtime.Preprocessing;

/// <summary>
/// The memory that image decodes may hold at once, shared by every model of a server: a decode takes its image's
/// decoded size (<see cref="ImagePreprocessor.DecodeBytes"/>) before it starts (<see cref="AcquireAsync"/>) and gives it
/// back when its bitmaps are freed (<see cref="Release"/>), as <see cref="SemaphoreSlim"/>'s WaitAsync and Release do
/// with a count. A decode that does not fit waits, without a thread, in arrival order (a large image is not overtaken
/// for ever by small ones). Without it the decoded size of concurrent frames is unbounded: a 16 KB PNG at the pixel
/// limit decodes to 64 MiB, and 32 streams of them took a server from 201 MB to 1.6 GB. Thread-safe.
/// </summary>
/// <param name="capacity">Bytes that decodes may hold at once, at least 1.</param>
public sealed class DecodeMemoryBudget(long capacity = DecodeMemoryBudget.DefaultBytes)
{
    /// <summary>The default budget: a few images at the default pixel limit (64 MiB each) at once, or dozens of camera frames.</summary>
    public const long DefaultBytes = 256L * 1024 * 1024;

    private const double Mebibyte = 1024 * 1024;

    private readonly Lock _gate = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private long _inUse;
    private long _peak;
    private long _waited;

    public long Capacity { get; } = capacity >= 1 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "The decode memory budget must be at least 1 byte.");

    /// <summary>Bytes held by decodes now.</summary>
    public long InUse => Interlocked.Read(ref _inUse);

    /// <summary>The most bytes held at once since start.</summary>
    public long Peak => Interlocked.Read(ref _peak);

    /// <summary>Decodes that had to wait for room since start.</summary>
    public long Waited => Interlocked.Read(ref _waited);

    /// <summary>Decodes waiting for room now.</summary>
    public int Waiting
    {
        get
        {
            lock (_gate)
            {
                return _waiters.Count;
            }
        }
    }

    /// <summary>
    /// Takes <paramref name="bytes"/> of the budget, at once when they fit and nobody waits, else when the decodes ahead
    /// have given back enough; <see cref="Release"/> gives them back. Completes synchronously (no allocation) when there
    /// is room.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is negative or more than <see cref="Capacity"/> (it could never fit: check <see cref="Fits"/> first).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired while waiting; nothing was taken.</exception>
    public ValueTask AcquireAsync(long bytes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, Capacity);
        if (bytes == 0)
        {
            // Nothing to hold (a tensor, a raw image of the model's size): not queued behind decodes that do.
            return ValueTask.CompletedTask;
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        Waiter waiter;
        lock (_gate)
        {
            if (_waiters.Count == 0 && _inUse + bytes <= Capacity)
            {
                Take(bytes);
                return ValueTask.CompletedTask;
            }

            waiter = new Waiter(this, bytes);
            waiter.Node = _waiters.AddLast(waiter);
            _waited++;
        }

        return WaitAsync(waiter, cancellationToken);
    }

    /// <summary>True when an image of <paramref name="bytes"/> can ever be decoded within the budget.</summary>
    public bool Fits(long bytes) => bytes <= Capacity;

    /// <summary>The error of an image that does not fit (<see cref="Fits"/>), naming the setting that bounds it.</summary>
    public string RefusalMessage(long bytes) => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"The image decodes to {bytes} bytes ({bytes / Mebibyte:0.#} MiB); the server decodes at most {Capacity} bytes ({Capacity / Mebibyte:0.#} MiB) of images at once (DfbNet:DecodeMemoryBytes); send a smaller image.");

    /// <summary>Gives back <paramref name="bytes"/> taken by <see cref="AcquireAsync"/> (once per acquisition) and lets
    /// waiting decodes in, in order, while they fit.</summary>
    public void Release(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        List<Waiter>? granted = null;
        lock (_gate)
        {
            if (bytes > _inUse)
            {
                throw new InvalidOperationException($"{bytes} bytes released, but decodes hold {_inUse}: a release without its acquisition.");
            }

            _inUse -= bytes;
            while (_waiters.First is { } first && _inUse + first.Value.Bytes <= Capacity)
            {
                _waiters.RemoveFirst();
                first.Value.Node = null;
                Take(first.Value.Bytes);
                (granted ??= []).Add(first.Value);
            }
        }

        // Completed outside the lock; continuations run on the thread pool (the waiter's option), not on this thread.
        if (granted is not null)
        {
            foreach (var waiter in granted)
            {
                waiter.TrySetResult();
            }
        }
    }

    /// <summary>Waits for a queued decode's turn; its registration lives exactly as long as the wait.</summary>
    private static async ValueTask WaitAsync(Waiter waiter, CancellationToken cancellationToken)
    {
        // Registered outside the lock: a token that has just fired runs the callback here, and it takes the lock.
        using (cancellationToken.UnsafeRegister(static (state, token) => ((Waiter)state!).Cancel(token), waiter))
        {
            await waiter.Task.ConfigureAwait(false);
        }
    }

    private void Take(long bytes)
    {
        _inUse += bytes;
        if (_inUse > _peak)
        {
            _peak = _inUse;
        }
    }

    private void Cancel(Waiter waiter, CancellationToken token)
    {
        lock (_gate)
        {
            // Granted already: its bytes are taken, and its owner releases them.
            if (waiter.Node is null)
            {
                return;
            }

            _waiters.Remove(waiter.Node);
            waiter.Node = null;
        }

        waiter.TrySetCanceled(token);

        // A large waiter at the head may have held back smaller ones that fit now.
        Release(0);
    }

    private sealed class Waiter(DecodeMemoryBudget budget, long bytes) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public long Bytes { get; } = bytes;

        /// <summary>Its place in the queue; null once granted or cancelled (under the budget's lock).</summary>
        public LinkedListNode<Waiter>? Node { get; set; }

        public void Cancel(CancellationToken token) => budget.Cancel(this, token);
    }
}
