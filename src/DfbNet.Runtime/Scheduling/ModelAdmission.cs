using DfbNet.Core;

namespace DfbNet.Runtime.Scheduling;

/// <summary>
/// A model's bound on admitted frames (queued plus running), shared fairly among the streams holding them. Thread-safe,
/// lock-free. A frame is refused at once:
/// <list type="bullet">
/// <item>from half the bound on, when its stream holds at least its share (the bound divided among the streams holding
/// frames, rounded up), with <see cref="FrameErrorCode.ResourceExhausted"/>: a stream that floods the model queues no
/// deeper than the others, so the frames it has admitted wait behind at most its share of its own;</item>
/// <item>at the bound, when its stream holds a frame already (<see cref="FrameErrorCode.ResourceExhausted"/> at or above
/// its share, else <see cref="FrameErrorCode.Unavailable"/>);</item>
/// <item>beyond the bound plus a reserve of an eighth of it, with <see cref="FrameErrorCode.Unavailable"/>. The reserve
/// is for the frames of quiet streams (holding none, and refused fewer than three times in the last second) and of
/// unary calls: a quiet stream beside a flood is not refused because the flood keeps the model at its bound. (A
/// flooding stream holds none for a moment too, between its answer and its next frame; its refusals tell it apart,
/// while a quiet stream refused once, its frame arriving before the last one's answer, keeps the reserve.)</item>
/// </list>
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
        Reserve = Math.Max(1, bound / 8);
        ShareFrom = Math.Max(1, bound / 2);
    }

    public int Bound { get; }

    /// <summary>Frames admitted beyond <see cref="Bound"/> at most, each of a quiet stream (or a unary call).</summary>
    public int Reserve { get; }

    /// <summary>Admitted frames from which each stream is held to its share.</summary>
    public int ShareFrom { get; }

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
        var admitted = Interlocked.Increment(ref _admitted);
        refusal = RefusalAt(admitted, client);
        if (refusal != FrameErrorCode.None)
        {
            Interlocked.Decrement(ref _admitted);
            Count(refusal, client);
            return false;
        }

        if (client is not null && Interlocked.Increment(ref client.HeldField) == 1)
        {
            Interlocked.Increment(ref _activeClients);
        }

        return true;
    }

    /// <summary>When a frame of <paramref name="client"/> would be refused now, counts and returns its refusal without
    /// taking a slot (a stream whose own queue is full learns of the overload at once instead of waiting).</summary>
    public bool TryRefuse(AdmissionClient? client, out FrameErrorCode refusal)
    {
        refusal = RefusalAt(Admitted + 1, client);
        if (refusal == FrameErrorCode.None)
        {
            return false;
        }

        Count(refusal, client);
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

    /// <summary>The refusal of a frame that would be the <paramref name="admitted"/>-th, of
    /// <paramref name="client"/>; <see cref="FrameErrorCode.None"/> to admit it.</summary>
    private FrameErrorCode RefusalAt(int admitted, AdmissionClient? client)
    {
        if (admitted <= ShareFrom)
        {
            return FrameErrorCode.None;
        }

        var held = client?.Held ?? 0;

        // A client holding nothing is not counted among the active ones yet: it would be one more.
        var active = Math.Max(1, ActiveClients + (held == 0 ? 1 : 0));
        var share = (Bound + active - 1) / active;
        if (held >= share)
        {
            return FrameErrorCode.ResourceExhausted;
        }

        if (admitted <= Bound)
        {
            return FrameErrorCode.None;
        }

        var quiet = held == 0 && (client is null || !client.IsFlooding(Environment.TickCount64));
        return quiet && admitted <= Bound + Reserve ? FrameErrorCode.None : FrameErrorCode.Unavailable;
    }

    private void Count(FrameErrorCode refusal, AdmissionClient? client)
    {
        Interlocked.Increment(ref refusal == FrameErrorCode.Unavailable ? ref _refusedUnavailable : ref _refusedExhausted);
        client?.CountRefusal(Environment.TickCount64);
    }

    /// <summary>The message of a refusal, naming the setting that bounds it.</summary>
    public string RefusalMessage(string model, FrameErrorCode refusal) => refusal == FrameErrorCode.ResourceExhausted
        ? $"Model '{model}' is loaded ({Admitted} of {Bound} frames admitted, DfbNet:MaxAdmittedFrames) and this stream holds its share of them; frame refused."
        : $"Model '{model}' is saturated ({Bound} frames admitted, DfbNet:MaxAdmittedFrames); frame refused, try again later.";
}

/// <summary>One stream's side of admission and fair ordering: how many frames it holds, and its virtual clock (frames of
/// a stream that sends more than its share queue behind those of quieter streams).</summary>
public sealed class AdmissionClient
{
    internal int HeldField;
    internal long VirtualFinish;

    // Refusals in the current window of ModelAdmission's flood test; one stream's frames are admitted one at a time
    // (its reader), so plain fields do, read approximately by nobody else.
    private long _refusalWindowStart = long.MinValue / 2;
    private int _refusalsInWindow;

    internal void CountRefusal(long now)
    {
        if (now - _refusalWindowStart >= FloodWindow)
        {
            _refusalWindowStart = now;
            _refusalsInWindow = 0;
        }

        _refusalsInWindow++;
    }

    internal bool IsFlooding(long now) => now - _refusalWindowStart < FloodWindow && _refusalsInWindow >= FloodRefusalCount;

    private const long FloodWindow = 1000;
    private const int FloodRefusalCount = 3;

    /// <summary>Frames of this client admitted now.</summary>
    public int Held => Volatile.Read(ref HeldField);
}
