namespace DfbNet.Runtime.Scheduling;

/// <summary>How a model's frames are admitted, batched across streams and run.</summary>
public sealed class SchedulerOptions
{
    /// <summary>Most frames run together in one stage run; 1 turns batching off. Stages whose model has a fixed batch
    /// dimension, and GPU stages that keep features on the device, run at batch 1 whatever this says.</summary>
    public int MaxBatchSize { get; set; } = 8;

    /// <summary>How long a batch that is not full may wait for more frames before it runs (Triton's
    /// <c>max_queue_delay_microseconds</c>); never past a frame's budget. Zero (the default) runs at once with what is
    /// queued: frames that arrive while the executors are busy still batch.</summary>
    public TimeSpan MaxQueueDelay { get; set; } = TimeSpan.Zero;

    /// <summary>Frames admitted to the model at most (queued plus running); beyond it a new frame is refused at once.</summary>
    public int MaxAdmittedFrames { get; set; } = 64;

    /// <summary>Admission by expected wait, off when zero (the default here; the server's default is 5 ms): a new
    /// frame is refused once the frames admitted would take longer than this to run, at the executor time per frame
    /// measured over the last runs, so that under overload frames wait about this long instead of for a whole
    /// <see cref="MaxAdmittedFrames"/>. <see cref="MaxAdmittedFrames"/> stays the upper bound; the lower is two frames an
    /// executor.</summary>
    public TimeSpan MaxExpectedWait { get; set; } = TimeSpan.Zero;

    /// <summary>Load-adaptive quality, off when empty: once the model's admitted frames reach a rung's share of
    /// its bound in force (<see cref="MaxAdmittedFrames"/>, or less by <see cref="MaxExpectedWait"/>), frames that asked for a preset (or none) run with the rung's preset instead, the
    /// highest rung reached winning; frames with explicit thresholds keep them. Events name the preset that answered.</summary>
    public IReadOnlyList<QualityRung> QualityLadder { get; set; } = [];

    /// <summary>Threads that run batches, each one stage run at a time; 0 for one per core.</summary>
    public int Executors { get; set; }

    /// <summary>Nice value (0..19) of the executor threads on Linux: above 0, the threads that read frames, refuse them
    /// and write answers run first when the cores are saturated, so refusals and answers already made are not delayed
    /// by stage runs. 0 leaves the executors at the process's priority.</summary>
    public int ExecutorNiceness { get; set; }

    /// <summary>A frame that arrives while the model is idle (nothing queued or running, for at least a millisecond) runs
    /// its stages on the thread that submits it instead of waking an executor: at camera rates, a thread hand-off each way less per frame.
    /// Under load frames queue and the executors run them as before. Off while <see cref="ExecutorNiceness"/> is above 0.</summary>
    public bool RunOnCallerWhenIdle { get; set; } = true;

    /// <summary>How long the model must have been idle for <see cref="RunOnCallerWhenIdle"/> to run a frame on its
    /// submitter (default 1 ms): a burst from one stream, whose next frame is read as soon as the last one ends, then
    /// goes to the executors and still batches. Zero runs every frame that finds nothing queued or running on its caller,
    /// for a caller that submits one frame at a time and waits for its final event (as <c>dfbnet eval</c> times frames).</summary>
    public TimeSpan CallerRunsAfterIdle { get; set; } = TimeSpan.FromMilliseconds(1);

    internal int ResolvedExecutors => Executors > 0 ? Executors : Math.Max(1, Environment.ProcessorCount);

    internal void Validate()
    {
        if (MaxBatchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBatchSize), MaxBatchSize, "The maximum batch size must be at least 1.");
        }

        if (MaxQueueDelay < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxQueueDelay), MaxQueueDelay, "The maximum queue delay must not be negative.");
        }

        if (MaxAdmittedFrames < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAdmittedFrames), MaxAdmittedFrames, "The bound on admitted frames must be at least 1.");
        }

        if (MaxExpectedWait < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxExpectedWait), MaxExpectedWait, "The expected-wait limit must not be negative.");
        }

        if (CallerRunsAfterIdle < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(CallerRunsAfterIdle), CallerRunsAfterIdle, "The idle time before a caller runs its frame must not be negative.");
        }

        if (ExecutorNiceness is < 0 or > 19)
        {
            throw new ArgumentOutOfRangeException(nameof(ExecutorNiceness), ExecutorNiceness, "The executors' nice value must be 0 to 19.");
        }

        if (Executors < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Executors), Executors, "Executors must be 0 (one per core) or more.");
        }
    }
}

/// <summary>A rung of the quality ladder: from <paramref name="Load"/> (admitted frames over the bound, in (0, 1]) on,
/// frames run with <paramref name="Preset"/>.</summary>
public sealed record QualityRung(double Load, string Preset);
