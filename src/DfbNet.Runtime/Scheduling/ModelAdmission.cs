using DfbNet.Core;

namespace DfbNet.Runtime.Scheduling;

/// <summary>
/// A model's bound on admitted frames (queued plus running). A frame beyond it is refused at once: with
/// <see cref="FrameErrorCode.ResourceExhausted"/> when its client holds at least its fair share of the bound (the bound
/// divided among the clients holding frames), else <see cref="FrameErrorCode.Unavailable"/>. Thread-safe, lock-free.
/// </summary>
public sealed class ModelAdmission
{
    private int _admitted;
    private int _activeClients;
    private long _refusedUnavailable;
    private long _refusedExhausted;

    public ModelAdmission(int bound)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bound, 1);
        Bound = bound;
    }

    public int Bound { get; }

    /// <summary>Frames admitted now.</summary>
    public int Admitted => Volatile.Read(ref _admitted);

    /// <summary>Clients (streams) holding at least one admitted frame now.</summary>
    public int ActiveClients => Volatile.Read(ref _activeClients);

    /// <summary>Frames refused since start, by reason.</summary>
    public long RefusedUnavailable => Interlocked.Read(ref _refusedUnavailable);

    public long RefusedResourceExhausted => Interlocked.Read(ref _refusedExhausted);

    /// <summary>Takes a slot for one frame of <paramref name="client"/> (null for a unary call).</summary>
    /// <param name="refusal">Why not, when it returns false.</param>
    public bool TryAdmit(AdmissionClient? client, out FrameErrorCode refusal)
    {
        if (Interlocked.Increment(ref _admitted) > Bound)
        {
            Interlocked.Decrement(ref _admitted);
            refusal = RefusalFor(client);
            Interlocked.Increment(ref refusal == FrameErrorCode.Unavailable ? ref _refusedUnavailable : ref _refusedExhausted);
            return false;
        }

        if (client is not null && Interlocked.Increment(ref client.HeldField) == 1)
        {
            Interlocked.Increment(ref _activeClients);
        }

        refusal = FrameErrorCode.None;
        return true;
    }

    /// <summary>When the model is saturated now, counts and returns the refusal a frame of <paramref name="client"/> would
    /// get, without taking a slot (a stream whose own queue is full learns of the overload at once instead of waiting).</summary>
    public bool TryRefuse(AdmissionClient? client, out FrameErrorCode refusal)
    {
        if (Admitted < Bound)
        {
            refusal = FrameErrorCode.None;
            return false;
        }

        refusal = RefusalFor(client);
        Interlocked.Increment(ref refusal == FrameErrorCode.Unavailable ? ref _refusedUnavailable : ref _refusedExhausted);
        return true;
    }

    /// <summary>Gives back the slot of a frame that has ended (or was never submitted).</summary>
    public void Release(AdmissionClient? client)
    {
        if (client is not null && Interlocked.Decrement(ref client.HeldField) == 0)
        {
            Interlocked.Decrement(ref _activeClients);
        }

        Interlocked.Decrement(ref _admitted);
    }

    private FrameErrorCode RefusalFor(AdmissionClient? client)
    {
        var active = Math.Max(1, ActiveClients);
        var share = (Bound + active - 1) / active;
        return client is not null && client.Held >= share ? FrameErrorCode.ResourceExhausted : FrameErrorCode.Unavailable;
    }

    /// <summary>The message of a refusal, naming the setting that bounds it.</summary>
    public string RefusalMessage(string model, FrameErrorCode refusal) => refusal == FrameErrorCode.ResourceExhausted
        ? $"Model '{model}' is saturated ({Bound} frames admitted, DfbNet:MaxAdmittedFrames) and this stream holds more than its share; frame refused."
        : $"Model '{model}' is saturated ({Bound} frames admitted, DfbNet:MaxAdmittedFrames); frame refused, try again later.";
}

/// <summary>One stream's side of admission and fair ordering: how many frames it holds, and its virtual clock (frames of
/// a stream that sends more than its share queue behind those of quieter streams).</summary>
public sealed class AdmissionClient
{
    internal int HeldField;
    internal long VirtualFinish;

    /// <summary>Frames of this client admitted now.</summary>
    public int Held => Volatile.Read(ref HeldField);
}
