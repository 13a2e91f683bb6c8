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
/// <item>beyond the bound, with <see cref="FrameErrorCode.Unavailable"/>, except in a reserve of an eighth of it. The reserve
/// is for the frames of quiet streams (holding none, and refused fewer than three times in the last second) and of
/// unary calls: a quiet stream beside a flood is not refused because the flood keeps the model at its bound. (A
/// flooding stream holds none for a moment too, between its answer and its next frame; its refusals tell it apart,
/// while a quiet stream refused once, its frame arriving before the last one's answer, keeps the reserve.)</item>
/// </list>
/// The bound these rules use is <see cref="LoadBound"/>: the configured one, or less when the model's measured cost per
/// frame says that the frames admitted would take longer than the expected-wait limit to run. Under overload a
/// frame then waits about that limit, not for the whole of a static bound sized for the slowest case (Little's law:
/// the wait is the frames admitted over the throughput). Quiet streams' frames are admitted beyond the load bound, up
/// to the configured bound and its reserve.
/// </summary>
public sealed class ModelAdmission
{
    private int _admitted;
    private int _activeClients;
    private long _refusedUnavailable;
    private long _refusedExhausted;
    private int _loadBound;

    // The cost estimate: executor time per frame that ended, over windows of at least CostWindow and CostWindowFrames,
    // smoothed so that one slow window (a preempted run) moves the bound by a third of the way only. Times in TimeSpan
    // ticks; the clock only dates the windows.
    private readonly TimeProvider _clock;
    private readonly int _executors;
    private readonly int _loadBoundFloor;
    private readonly Lock _costGate = new();
    private long _ended;
    private long _windowStart;
    private long _windowEnded;
    private long _windowBusyTicks;
    private double _costTicksPerFrame;

    /// <param name="bound">The most frames admitted at once.</param>
    /// <param name="maxExpectedWait">Zero for the static bound alone; else the longest the frames admitted may take to
    /// run, at the measured cost per frame over <paramref name="executors"/> (see <see cref="LoadBound"/>).</param>
    /// <param name="executors">Stage runs that go on at once (the model's executors).</param>
    /// <param name="clock">The time source of the cost windows (the engine's).</param>
    public ModelAdmission(int bound, TimeSpan maxExpectedWait = default, int executors = 1, TimeProvider? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bound, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxExpectedWait, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(executors, 1);
        Bound = bound;
        MaxExpectedWait = maxExpectedWait;
        _loadBound = bound;
        _executors = executors;
        _clock = clock ?? TimeProvider.System;

        // Each executor one frame running and one waiting: below that the executors would idle between frames.
        _loadBoundFloor = Math.Min(bound, 2 * executors);
        _windowStart = _clock.GetTimestamp();
    }

    /// <summary>The configured bound on admitted frames.</summary>
    public int Bound { get; }

    /// <summary>The expected-wait limit; zero when only <see cref="Bound"/> applies.</summary>
    public TimeSpan MaxExpectedWait { get; }

    /// <summary>The bound in force now: <see cref="Bound"/>, or, with an expected-wait limit, the frames the executors
    /// run within it at the measured cost per frame (at least two per executor).</summary>
    public int LoadBound => Volatile.Read(ref _loadBound);

    /// <summary>Frames admitted beyond <see cref="Bound"/> at most, each of a quiet stream (or a unary call); quiet
    /// streams are admitted beyond a lower <see cref="LoadBound"/> up to the bound and this reserve.</summary>
    public int Reserve => ReserveOf(Bound);

    /// <summary>Admitted frames from which each stream is held to its share.</summary>
    public int ShareFrom => ShareFromOf(LoadBound);

    /// <summary>The measured executor time per frame (zero before the first window ends).</summary>
    public TimeSpan CostPerFrame
    {
        get
        {
            lock (_costGate)
            {
                return TimeSpan.FromTicks((long)_costTicksPerFrame);
            }
        }
    }

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
        // Decide on the count the slot would make, and take it only if the count has not moved meanwhile: a frame that
        // is refused never holds a slot, not even for a moment. (Taking it first and giving it back on refusal let a
        // flood's refused frames, thousands a second, lift the count past the reserve while a quiet stream's frame
        // was decided, and so refuse it.)
        var admitted = Volatile.Read(ref _admitted);
        while (true)
        {
            refusal = RefusalAt(admitted + 1, client);
            if (refusal != FrameErrorCode.None)
            {
                Count(refusal, client);
                return false;
            }

            var seen = Interlocked.CompareExchange(ref _admitted, admitted + 1, admitted);
            if (seen == admitted)
            {
                break;
            }

            admitted = seen;
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

        if (MaxExpectedWait > TimeSpan.Zero)
        {
            Interlocked.Increment(ref _ended);
        }

        Interlocked.Decrement(ref _admitted);
    }

    /// <summary>A stage run of the model's frames took <paramref name="elapsed"/> (any batch size): with an
    /// expected-wait limit, the cost per frame, and <see cref="LoadBound"/> with it, follow the runs.</summary>
    public void RecordRun(TimeSpan elapsed)
    {
        if (MaxExpectedWait == TimeSpan.Zero)
        {
            return;
        }

        var now = _clock.GetTimestamp();
        lock (_costGate)
        {
            _windowBusyTicks += elapsed.Ticks;
            var ended = Interlocked.Read(ref _ended);
            var frames = ended - _windowEnded;
            if (_clock.GetElapsedTime(_windowStart, now) < CostWindow || frames < CostWindowFrames)
            {
                return;
            }

            var cost = (double)_windowBusyTicks / frames;
            _costTicksPerFrame = _costTicksPerFrame == 0 ? cost : _costTicksPerFrame + (cost - _costTicksPerFrame) / 3;
            _windowStart = now;
            _windowEnded = ended;
            _windowBusyTicks = 0;
            var frameBound = MaxExpectedWait.Ticks * (double)_executors / _costTicksPerFrame;
            Volatile.Write(ref _loadBound, (int)Math.Clamp(frameBound, _loadBoundFloor, Bound));
        }
    }

    private static int ReserveOf(int bound) => Math.Max(1, bound / 8);

    private static int ShareFromOf(int bound) => Math.Max(1, bound / 2);

    private static readonly TimeSpan CostWindow = TimeSpan.FromMilliseconds(50);
    private const int CostWindowFrames = 16;

    /// <summary>The refusal of a frame that would be the <paramref name="admitted"/>-th, of
    /// <paramref name="client"/>; <see cref="FrameErrorCode.None"/> to admit it.</summary>
    private FrameErrorCode RefusalAt(int admitted, AdmissionClient? client)
    {
        var bound = LoadBound;
        if (admitted <= ShareFromOf(bound))
        {
            return FrameErrorCode.None;
        }

        var held = client?.Held ?? 0;

        // A client holding nothing is not counted among the active ones yet: it would be one more.
        var active = Math.Max(1, ActiveClients + (held == 0 ? 1 : 0));
        var share = (bound + active - 1) / active;
        if (held >= share)
        {
            return FrameErrorCode.ResourceExhausted;
        }

        if (admitted <= bound)
        {
            return FrameErrorCode.None;
        }

        // The expected-wait limit is for the streams that load the model: a quiet stream's frame is admitted up to the
        // configured bound and its reserve (a lower load bound with its small reserve refused a 20 fps stream's frames
        // beside a flood).
        var quiet = held == 0 && (client is null || !client.IsFlooding(Environment.TickCount64));
        return quiet && admitted <= Bound + ReserveOf(Bound) ? FrameErrorCode.None : FrameErrorCode.Unavailable;
    }

    private void Count(FrameErrorCode refusal, AdmissionClient? client)
    {
        Interlocked.Increment(ref refusal == FrameErrorCode.Unavailable ? ref _refusedUnavailable : ref _refusedExhausted);
        client?.CountRefusal(Environment.TickCount64);
    }

    /// <summary>The message of a refusal, naming the setting that bounds it.</summary>
    public string RefusalMessage(string model, FrameErrorCode refusal)
    {
        var bound = LoadBound;
        var limit = bound < Bound
            ? $"{bound} frames, about {MaxExpectedWait.TotalMilliseconds:0.###} ms of work at {CostPerFrame.TotalMilliseconds:0.###} ms a frame, DfbNet:MaxExpectedWaitMicroseconds"
            : $"{bound} frames, DfbNet:MaxAdmittedFrames";
        return refusal == FrameErrorCode.ResourceExhausted
            ? $"Model '{model}' is loaded ({Admitted} admitted of {limit}) and this stream holds its share of them; frame refused."
            : $"Model '{model}' is saturated ({limit}); frame refused, try again later.";
    }
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
