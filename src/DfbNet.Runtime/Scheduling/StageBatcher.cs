namespace DfbNet.Runtime.Scheduling;

/// <summary>
/// The queues in front of a model's stages, and the rule that picks the next batch. Not thread-safe: its owner
/// (<see cref="ModelScheduler"/>) calls it under one lock.
/// </summary>
/// <remarks>
/// <para>Each stage has a queue ordered by the frames' keys: a frame with a budget is keyed by its deadline, one without
/// by its stream's virtual time plus a horizon (so budgets go first, streams take turns, and nothing waits for ever).
/// A frame keeps its key from stage to stage, so frames already under way finish before newer ones start.</para>
/// <para>The next batch comes from the stage whose first frame has the smallest key (the deeper stage on a tie). It
/// takes frames in key order while the batch's estimated run still ends within every member's budget; a frame whose
/// budget cannot be met even alone is cut instead (exit 1 runs for an always-answer frame whatever its budget). A
/// batch that is not full may wait up to the maximum queue delay for more frames, but never past the point where its
/// tightest member could still run in time.</para>
/// </remarks>
internal sealed class StageBatcher
{
    private readonly List<ScheduledFrame>[] _queues;
    private readonly int[] _maxBatch;
    private readonly TimeSpan _maxQueueDelay;
    private readonly TimeProvider _clock;
    private readonly Func<int, int, TimeSpan> _estimate;

    /// <param name="maxBatch">The largest batch of each stage.</param>
    /// <param name="maxQueueDelay">How long a batch that is not full may wait for more frames.</param>
    /// <param name="clock">The time source of budgets and delays.</param>
    /// <param name="estimate">The expected time of a run of (stage, batch size).</param>
    public StageBatcher(int[] maxBatch, TimeSpan maxQueueDelay, TimeProvider clock, Func<int, int, TimeSpan> estimate)
    {
        _maxBatch = maxBatch;
        _maxQueueDelay = maxQueueDelay;
        _clock = clock;
        _estimate = estimate;
        _queues = new List<ScheduledFrame>[maxBatch.Length];
        for (var s = 0; s < _queues.Length; s++)
        {
            _queues[s] = [];
        }
    }

    /// <summary>Frames queued at all stages.</summary>
    public int Count { get; private set; }

    /// <summary>Frames queued at one stage.</summary>
    public int CountAt(int stage) => _queues[stage].Count;

    public void Enqueue(ScheduledFrame frame)
    {
        var queue = _queues[frame.Evaluation.NextStage];
        frame.EnqueuedTimestamp = _clock.GetTimestamp();

        // Binary search for the first element that sorts after the frame: equal keys stay in submission order.
        int lo = 0, hi = queue.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (Compare(queue[mid], frame) <= 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        queue.Insert(lo, frame);
        Count++;
    }

    /// <summary>
    /// Picks the next batch. Frames whose budget cannot be met go to <paramref name="cut"/>, cancelled ones to
    /// <paramref name="cancelled"/> (both leave the queues); the batch goes to <paramref name="batch"/>.
    /// </summary>
    /// <param name="wait">When no batch is due: how long until one may be (the queue delay of a held batch), or
    /// <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    /// <returns>The zero-based stage of the batch, or -1 for none now.</returns>
    public int TakeBatch(List<ScheduledFrame> batch, List<ScheduledFrame> cut, List<ScheduledFrame> cancelled, out TimeSpan wait)
    {
        wait = Timeout.InfiniteTimeSpan;
        while (Count > 0)
        {
            var stage = PickStage();
            var queue = _queues[stage];
            var tightest = TimeSpan.MaxValue;
            var i = 0;
            while (i < queue.Count && batch.Count < _maxBatch[stage])
            {
                var frame = queue[i];
                if (frame.CancellationToken.IsCancellationRequested)
                {
                    Remove(queue, i);
                    cancelled.Add(frame);
                    continue;
                }

                var evaluation = frame.Evaluation;
                var slack = TimeSpan.MaxValue;
                if (evaluation.Slack is { } s)
                {
                    if (s < _estimate(stage, 1))
                    {
                        Remove(queue, i);
                        cut.Add(frame);
                        continue;
                    }

                    slack = s;
                }

                var candidateTightest = slack < tightest ? slack : tightest;
                if (candidateTightest != TimeSpan.MaxValue && candidateTightest < _estimate(stage, batch.Count + 1))
                {
                    // One more frame would make the batch's run end past a member's budget: run what fits now.
                    break;
                }

                Remove(queue, i);
                batch.Add(frame);
                tightest = candidateTightest;
            }

            if (batch.Count == 0)
            {
                if (cut.Count > 0 || cancelled.Count > 0)
                {
                    return -1;
                }

                continue;
            }

            if (batch.Count < _maxBatch[stage] && _maxQueueDelay > TimeSpan.Zero)
            {
                var held = HoldFor(stage, batch, tightest);
                if (held > TimeSpan.Zero)
                {
                    foreach (var frame in batch)
                    {
                        Reinsert(frame);
                    }

                    batch.Clear();
                    wait = held;
                    return -1;
                }
            }

            return stage;
        }

        return -1;
    }

    /// <summary>Removes every queued frame (shutdown of an engine that is not drained), in no particular order.</summary>
    public void TakeAll(List<ScheduledFrame> frames)
    {
        foreach (var queue in _queues)
        {
            frames.AddRange(queue);
            queue.Clear();
        }

        Count = 0;
    }

    private static int Compare(ScheduledFrame a, ScheduledFrame b)
    {
        var byKey = a.Key.CompareTo(b.Key);
        return byKey != 0 ? byKey : a.Sequence.CompareTo(b.Sequence);
    }

    private int PickStage()
    {
        var best = -1;
        for (var s = _queues.Length - 1; s >= 0; s--)
        {
            // Keys alone, from the deepest stage: on a tie the frame nearer its answer goes first.
            if (_queues[s].Count > 0 && (best < 0 || _queues[s][0].Key < _queues[best][0].Key))
            {
                best = s;
            }
        }

        return best;
    }

    /// <summary>How much longer a batch that is not full may wait: until its oldest member has waited the maximum queue
    /// delay, and no longer than its tightest member can spare for a full batch's run.</summary>
    private TimeSpan HoldFor(int stage, List<ScheduledFrame> batch, TimeSpan tightest)
    {
        var oldest = long.MaxValue;
        foreach (var frame in batch)
        {
            if (frame.Request.IsWarmup)
            {
                // The engine's own start-up frames wait for no one.
                return TimeSpan.Zero;
            }

            oldest = Math.Min(oldest, frame.EnqueuedTimestamp);
        }

        var held = _maxQueueDelay - _clock.GetElapsedTime(oldest);
        if (tightest != TimeSpan.MaxValue)
        {
            var spare = tightest - _estimate(stage, _maxBatch[stage]);
            held = spare < held ? spare : held;
        }

        return held;
    }

    /// <summary>Puts a held frame back where it was, keeping the time it has waited.</summary>
    private void Reinsert(ScheduledFrame frame)
    {
        var timestamp = frame.EnqueuedTimestamp;
        Enqueue(frame);
        frame.EnqueuedTimestamp = timestamp;
    }

    private void Remove(List<ScheduledFrame> queue, int index)
    {
        queue.RemoveAt(index);
        Count--;
    }
}
