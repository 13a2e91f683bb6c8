namespace DfbNet.Core;

/// <summary>
/// The per-frame state of Algorithm 1 with modes and a latency budget: which stage runs next, the running
/// softmax sum, and the events each stage produces. It holds no model: the engine (or a batch scheduler)
/// runs the stage and hands the logits back, so frames of several streams can share one stage run.
/// </summary>
public sealed class FrameEvaluation
{
    private readonly ExitPolicy _policy;
    private readonly TimeProvider _clock;
    private readonly long _startTimestamp;
    private readonly float[] _sum;
    private readonly float[][] _exitProbabilities;
    private int _answeredAt = -1;

    /// <param name="frameId">The client's id, copied into every event.</param>
    /// <param name="policy">Thresholds p_1..p_M.</param>
    /// <param name="classCount">K.</param>
    /// <param name="mode">First-exit, refine or full.</param>
    /// <param name="budget">Latency budget measured from <paramref name="startTimestamp"/>; null for none. Ignored in full mode.</param>
    /// <param name="clock">The time source; tests pass a fake one.</param>
    /// <param name="startTimestamp">When the frame was received, from <paramref name="clock"/>.</param>
    /// <param name="alwaysAnswer">Run exit 1 even when the budget cannot be met, so that the frame has a (late) answer;
    /// otherwise a budget too short for exit 1 ends the frame at once with a prediction-less budget cut.</param>
    public FrameEvaluation(string frameId, ExitPolicy policy, int classCount, InferenceMode mode, TimeSpan? budget, TimeProvider clock, long startTimestamp, bool alwaysAnswer = false)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        if (budget is { } b && b < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(budget), b, "The budget must not be negative.");
        }

        FrameId = frameId;
        _policy = policy;
        _clock = clock;
        _startTimestamp = startTimestamp;
        _sum = new float[classCount];
        _exitProbabilities = new float[policy.ExitCount][];
        Mode = mode;
        Budget = mode == InferenceMode.Full ? null : budget;
        AlwaysAnswer = alwaysAnswer;
    }

    public string FrameId { get; }

    public InferenceMode Mode { get; }

    public TimeSpan? Budget { get; }

    /// <summary>True when exit 1 runs whatever the budget says.</summary>
    public bool AlwaysAnswer { get; }

    /// <summary>When the frame was received, from the clock.</summary>
    public long StartTimestamp => _startTimestamp;

    /// <summary>Time the frame waited before its first stage ran; set by whoever runs it, copied into every later event.</summary>
    public TimeSpan QueueTime { get; set; }

    /// <summary>How long until the budget runs out (negative once it has): what the next stage's run may take. Null when
    /// the budget does not hold the next stage (no budget, or exit 1 of an <see cref="AlwaysAnswer"/> frame).</summary>
    public TimeSpan? Slack => SlackAt(Elapsed);

    /// <summary>The zero-based stage to run next.</summary>
    public int NextStage { get; private set; }

    /// <summary>Exits computed so far.</summary>
    public int ExitsComputed => NextStage;

    /// <summary>True once the final event has been produced.</summary>
    public bool IsComplete { get; private set; }

    /// <summary>Time since the frame was received.</summary>
    public TimeSpan Elapsed => _clock.GetElapsedTime(_startTimestamp);

    /// <summary>
    /// Decides whether the next stage may start, given <paramref name="estimate"/>, the expected time of its run. A stage
    /// does not start when the time spent plus the estimate would exceed the budget; the frame then ends with a
    /// <see cref="ExitKind.BudgetCut"/> event carrying the fusion of the exits computed so far (none before exit 1, unless
    /// <see cref="AlwaysAnswer"/>, which lets exit 1 run whatever the budget).
    /// </summary>
    /// <param name="estimate">The expected duration of the stage's run (for the batch it would run in).</param>
    /// <param name="budgetCut">The final event when the budget stops the frame here.</param>
    /// <returns>True when the stage should run; false when the frame is complete (cut, or already done).</returns>
    public bool TryBeginStage(TimeSpan estimate, out ExitEvent? budgetCut)
    {
        budgetCut = null;
        if (IsComplete)
        {
            return false;
        }

        var elapsed = Elapsed;
        if (SlackAt(elapsed) is not { } slack || estimate <= slack)
        {
            return true;
        }

        budgetCut = CutByBudget(elapsed);
        return false;
    }

    /// <summary><see cref="TryBeginStage(TimeSpan, out ExitEvent?)"/> with the batch-1 estimate of the next stage.</summary>
    public bool TryBeginStage(StageLatencyEstimator latency, out ExitEvent? budgetCut)
    {
        ArgumentNullException.ThrowIfNull(latency);
        return TryBeginStage(IsComplete ? TimeSpan.Zero : latency.Estimate(NextStage), out budgetCut);
    }

    /// <summary>Ends the frame now with a budget cut (the fusion of the exits computed so far; no prediction before
    /// exit 1): the scheduler's word when it cannot run the next stage in time.</summary>
    public ExitEvent CutByBudget() => CutByBudget(Elapsed);

    /// <summary>The one budget rule, for <see cref="TryBeginStage(TimeSpan, out ExitEvent?)"/> and the scheduler alike.</summary>
    private TimeSpan? SlackAt(TimeSpan elapsed) => Budget is { } b && !(NextStage == 0 && AlwaysAnswer) ? b - elapsed : null;

    private ExitEvent CutByBudget(TimeSpan elapsed)
    {
        if (IsComplete)
        {
            throw new InvalidOperationException($"Frame '{FrameId}' is already complete.");
        }

        IsComplete = true;
        if (ExitsComputed == 0)
        {
            return new ExitEvent
            {
                FrameId = FrameId,
                Exit = 0,
                Kind = ExitKind.BudgetCut,
                ExitsComputed = 0,
                IsFinal = true,
                ServerTime = elapsed,
                QueueTime = elapsed,
            };
        }

        var running = Prediction.From(MeanOfSum());
        return FinalFusion(ExitKind.BudgetCut, FinalAnswer(running), running, elapsed);
    }

    /// <summary>Takes the logits of the stage that just ran and appends its events (one, or two after the last exit).</summary>
    public void CompleteStage(ReadOnlySpan<float> logits, ICollection<ExitEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (IsComplete)
        {
            throw new InvalidOperationException($"Frame '{FrameId}' is already complete.");
        }

        if (logits.Length != _sum.Length)
        {
            throw new ArgumentException($"Exit {NextStage + 1} returned {logits.Length} logits; the model has {_sum.Length} classes.", nameof(logits));
        }

        var stage = NextStage;
        var probabilities = new float[logits.Length];
        ExitPolicy.Softmax(logits, probabilities);
        _exitProbabilities[stage] = probabilities;
        for (var k = 0; k < _sum.Length; k++)
        {
            _sum[k] += probabilities[k];
        }

        NextStage = stage + 1;
        var own = Prediction.From(probabilities);
        var running = Prediction.From(MeanOfSum());
        var last = NextStage == _policy.ExitCount;

        ExitKind kind;
        var final = false;
        if (_answeredAt >= 0)
        {
            kind = ExitKind.Refinement;
        }
        else if (_policy.ShouldExit(stage, own.Confidence))
        {
            _answeredAt = stage;
            kind = ExitKind.EarlyExit;
            final = Mode == InferenceMode.FirstExit;
        }
        else
        {
            kind = ExitKind.BelowThreshold;
        }

        var time = Elapsed;
        events.Add(new ExitEvent
        {
            FrameId = FrameId,
            Exit = stage + 1,
            Kind = kind,
            Prediction = own,
            RunningFusion = running,
            ExitsComputed = NextStage,
            IsFinal = final,
            ServerTime = time,
            QueueTime = QueueTime,
            Preset = _policy.Preset,
        });

        if (final)
        {
            IsComplete = true;
            return;
        }

        if (last)
        {
            // No exit fired (the mean over all M exits, Algorithm 1), or refine/full ran them all.
            IsComplete = true;
            events.Add(FinalFusion(ExitKind.Fused, FinalAnswer(running), running, time));
        }
    }

    /// <summary>
    /// The answer of a frame that ends after its exits so far: in refine mode, once an exit has answered, the policy's
    /// <see cref="RefineRule"/> over them; otherwise (no exit sure, or full mode) their probability fusion.
    /// </summary>
    private Prediction FinalAnswer(Prediction runningFusion)
    {
        if (Mode != InferenceMode.Refine || _answeredAt < 0 || _policy.RefineRule == RefineRule.Fusion)
        {
            return runningFusion;
        }

        var answer = new float[_sum.Length];
        RefineRules.Combine(_policy.RefineRule, new ArraySegment<float[]>(_exitProbabilities, 0, ExitsComputed), _answeredAt, answer);
        return Prediction.From(answer);
    }

    /// <summary>The final event of a frame that ran all M exits or was cut by the budget: its answer (the fusion of the
    /// exits computed, or refine mode's rule) and the running fusion.</summary>
    private ExitEvent FinalFusion(ExitKind kind, Prediction answer, Prediction runningFusion, TimeSpan time) => new()
    {
        FrameId = FrameId,
        Exit = 0,
        Kind = kind,
        Prediction = answer,
        RunningFusion = runningFusion,
        ExitsComputed = ExitsComputed,
        IsFinal = true,
        ServerTime = time,
        QueueTime = QueueTime,
        Preset = _policy.Preset,
    };

    /// <summary>The final event of a frame that a newer frame of its stream replaced before it started.</summary>
    public static ExitEvent Dropped(string frameId, TimeSpan serverTime) => new()
    {
        FrameId = frameId,
        Exit = 0,
        Kind = ExitKind.Dropped,
        IsFinal = true,
        ServerTime = serverTime,
        QueueTime = serverTime,
    };

    /// <summary>An event that fails a frame.</summary>
    public static ExitEvent Failed(string frameId, FrameErrorCode code, string message, TimeSpan serverTime, int exitsComputed = 0) => new()
    {
        FrameId = frameId,
        Exit = 0,
        Kind = ExitKind.Error,
        IsFinal = true,
        ServerTime = serverTime,
        ExitsComputed = exitsComputed,
        Error = message,
        ErrorCode = code,
    };

    private float[] MeanOfSum()
    {
        var mean = new float[_sum.Length];
        var n = Math.Max(1, ExitsComputed);
        for (var k = 0; k < mean.Length; k++)
        {
            mean[k] = _sum[k] / n;
        }

        return mean;
    }
}
