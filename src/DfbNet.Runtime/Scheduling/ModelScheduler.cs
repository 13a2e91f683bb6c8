using DfbNet.Core;
using DfbNet.Runtime.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.Scheduling;

/// <summary>
/// One model's scheduler: frames of every stream wait in per-stage queues (<see cref="StageBatcher"/>), executor threads
/// take batches from them, run each on its stage (<see cref="StageExecutor"/>), hand the logits to each frame's
/// <see cref="FrameEvaluation"/>, send its events to its sink, and queue the frames that go on at the next stage, so
/// that batches shrink at each exit. Executors are dedicated threads: a stage run is synchronous native work that
/// would otherwise hold thread-pool threads the network needs. An idle executor blocks; it does not spin.
/// </summary>
internal sealed class ModelScheduler : IDisposable
{
    private readonly object _gate = new();
    private readonly StageBatcher _batcher;
    private readonly StageExecutor _executor;
    private readonly IFrameCompletion _completion;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly int _classCount;
    private long _batches;
    private readonly int _maxBatch;
    private readonly Thread[] _threads;
    private long _sequence;
    private bool _stopping;
    private readonly int _niceness;
    private readonly bool _callerRuns;
    private readonly Stack<RunContext> _callerContexts = new();

    // Batches being run now, by executors and by callers, and when that last fell to 0 (under the gate). A caller runs
    // a frame only when the model has been idle for a while (_callerGap): a burst from one stream, whose next frame is
    // read as soon as the last one ends, goes to the executors, so its frames still overlap and batch.
    private int _running;
    private int _callers;
    private long _idleSince;
    private readonly long _callerGap;

    public ModelScheduler(string model, StageExecutor executor, int[] maxBatch, SchedulerOptions options, int classCount, IFrameCompletion completion, TimeProvider clock, ILogger logger)
    {
        _executor = executor;
        _completion = completion;
        _clock = clock;
        _logger = logger;
        _classCount = classCount;
        _maxBatch = maxBatch.Max();
        MaxBatch = maxBatch;
        _batcher = new StageBatcher(maxBatch, options.MaxQueueDelay, clock, completion.Estimate);
        _niceness = options.ExecutorNiceness;

        // Niced executors mean stage runs yield to the network threads: running them on those threads would undo it.
        _callerRuns = options.RunOnCallerWhenIdle && options.ExecutorNiceness == 0;
        _callerGap = clock.ToTimestampTicks(options.CallerRunsAfterIdle);
        _idleSince = clock.GetTimestamp() - _callerGap;
        _threads = new Thread[options.ResolvedExecutors];
        for (var i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(RunExecutor) { IsBackground = true, Name = $"dfbnet {model} executor {i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>The largest batch of each stage.</summary>
    public IReadOnlyList<int> MaxBatch { get; }

    /// <summary>Executor threads.</summary>
    public int Executors => _threads.Length;

    /// <summary>Frames waiting in the stage queues now.</summary>
    public int Queued
    {
        get
        {
            lock (_gate)
            {
                return _batcher.Count;
            }
        }
    }

    /// <summary>Queues a frame at its first stage; when the model is idle, runs it here first (see
    /// <see cref="RunOnCallerOrQueue"/>). Either way its events go to its sink.</summary>
    public void Enqueue(ScheduledFrame frame) => RunOnCallerOrQueue(frame);

    /// <summary>Stops the executors once every queued frame has been run (frames keep their promise of a final event).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            _stopping = true;
            Monitor.PulseAll(_gate);
        }

        foreach (var thread in _threads)
        {
            thread.Join();
        }

        lock (_gate)
        {
            while (_callerContexts.Count > 0)
            {
                _callerContexts.Pop().Dispose();
            }
        }
    }

    private void RunExecutor()
    {
        var context = new RunContext(_maxBatch, _classCount);
        ThreadNiceness.TryLowerCurrentThread(_niceness);
        try
        {
            var ran = false;
            while (true)
            {
                int stage;
                lock (_gate)
                {
                    if (ran)
                    {
                        EndRunLocked();
                    }

                    while (!TakeLocked(context, out stage, out var wait))
                    {
                        // A caller still running may queue its frame's next stage: the executors stay for it, and the
                        // engine's sessions outlive every run (Dispose returns once the executors have).
                        if (_stopping && _batcher.Count == 0 && _callers == 0)
                        {
                            return;
                        }

                        Monitor.Wait(_gate, wait);
                    }
                }

                ran = stage >= 0;
                Run(stage, context, pulse: true);
            }
        }
        finally
        {
            context.Dispose();
        }
    }

    /// <summary>
    /// Queues the frame; when the model is idle (nothing queued or running, for at least a millisecond) its first batch
    /// runs here, on the submitting thread. At camera rates that is every frame, and it saves waking an executor, and
    /// the thread hand-off each way, per frame. The caller goes on with the batches queued after its own (its frame's
    /// next stages, and anything that arrived meanwhile) for at most one run per stage, then leaves what is left to the
    /// executors, so a network thread is never held for more than one frame's stages.
    /// </summary>
    private void RunOnCallerOrQueue(ScheduledFrame frame)
    {
        RunContext context;
        int stage;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopping, this);
            var idle = _callerRuns && _batcher.Count == 0 && _running == 0 && _clock.GetTimestamp() - _idleSince >= _callerGap;
            frame.Sequence = _sequence++;
            _batcher.Enqueue(frame);
            if (!idle)
            {
                Monitor.Pulse(_gate);
                return;
            }

            context = _callerContexts.Count > 0 ? _callerContexts.Pop() : new RunContext(_maxBatch, _classCount);
            if (!TakeLocked(context, out stage, out _))
            {
                // Held for a fuller batch (a queue delay): the executors time that.
                _callerContexts.Push(context);
                Monitor.Pulse(_gate);
                return;
            }

            _callers++;
        }

        for (var runs = 1; ; runs++)
        {
            var ran = stage >= 0;
            Run(stage, context, pulse: false);
            lock (_gate)
            {
                if (ran)
                {
                    EndRunLocked();
                }

                if (runs >= _executor.StageCount || _running >= _threads.Length || !TakeLocked(context, out stage, out _))
                {
                    // Frames this thread queued without waking anyone, or held ones, are the executors' now.
                    _callers--;
                    if (_stopping)
                    {
                        Monitor.PulseAll(_gate);
                    }
                    else if (_batcher.Count > 0)
                    {
                        Monitor.Pulse(_gate);
                    }

                    _callerContexts.Push(context);
                    return;
                }
            }
        }
    }

    /// <summary>Takes the next batch, and the frames to cut or abandon, into <paramref name="context"/>; a batch taken
    /// counts as running until <see cref="EndRunLocked"/>. False when there is nothing to do now. Under the gate.</summary>
    private bool TakeLocked(RunContext context, out int stage, out TimeSpan wait)
    {
        stage = _batcher.TakeBatch(context.Batch, context.Cut, context.Cancelled, out wait);
        if (stage >= 0)
        {
            _running++;
        }

        return stage >= 0 || context.Cut.Count > 0 || context.Cancelled.Count > 0;
    }

    private void EndRunLocked()
    {
        if (--_running == 0)
        {
            _idleSince = _clock.GetTimestamp();
        }
    }

    /// <summary>Ends the frames cut or cancelled by the last take, then runs its batch (if any).</summary>
    private void Run(int stage, RunContext context, bool pulse)
    {
        foreach (var frame in context.Cut)
        {
            _completion.Finish(frame, frame.Evaluation.CutByBudget());
        }

        foreach (var frame in context.Cancelled)
        {
            _completion.Abandon(frame);
        }

        context.Cut.Clear();
        context.Cancelled.Clear();
        if (stage >= 0)
        {
            context.RunOptions = RunBatch(stage, context.Batch, context.Logits, context.Events, context.RunOptions, pulse);
            context.Batch.Clear();
        }
    }

    private RunOptions RunBatch(int stage, List<ScheduledFrame> batch, float[] logits, List<ExitEvent> events, RunOptions runOptions, bool pulse)
    {
        var start = _clock.GetTimestamp();
        foreach (var frame in batch)
        {
            if (frame.Evaluation.ExitsComputed == 0)
            {
                frame.Evaluation.QueueTime = _clock.GetElapsedTime(frame.Evaluation.StartTimestamp, start);
            }
        }

        Exception? failure = null;
        var registration = default(CancellationTokenRegistration);
        try
        {
            // A lone frame's cancellation stops its run (ONNX Runtime's terminate flag); a batch runs for all its frames.
            if (batch.Count == 1 && _executor.Path != StageDataPath.Captured)
            {
                registration = batch[0].CancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
            }

            _executor.Run(stage, batch, logits, runOptions);
        }
        catch (Exception ex)
        {
            // Whatever went wrong, the batch's frames each get a final event: an executor thread never dies of a run.
            failure = ex;
        }
        finally
        {
            registration.Dispose();
        }

        var elapsed = _clock.GetElapsedTime(start);
        if (runOptions.Terminate)
        {
            // A terminated RunOptions is not reused: resetting the flag races with a late cancellation callback.
            runOptions.Dispose();
            runOptions = new RunOptions();
        }

        if (failure is not null)
        {
            foreach (var frame in batch)
            {
                if (frame.CancellationToken.IsCancellationRequested)
                {
                    _completion.Abandon(frame);
                }
                else
                {
                    RuntimeLog.FrameFailed(_logger, failure, frame.Request.FrameId, stage + 1);
                    _completion.Finish(frame, FrameEvaluation.Failed(frame.Request.FrameId, FrameErrorCode.Internal, $"Stage {stage + 1} failed: {failure.Message}", frame.Evaluation.Elapsed, frame.Evaluation.ExitsComputed));
                }
            }

            return runOptions;
        }

        _completion.RecordStage(stage, batch, elapsed, Interlocked.Increment(ref _batches));
        for (var i = 0; i < batch.Count; i++)
        {
            var frame = batch[i];
            frame.Inference += elapsed;
            events.Clear();
            frame.Evaluation.CompleteStage(logits.AsSpan(i * _classCount, _classCount), events);
            ExitEvent? final = null;
            foreach (var e in events)
            {
                if (e.IsFinal)
                {
                    final = e;
                }
                else
                {
                    frame.Sink.OnEvent(e);
                }
            }

            if (final is not null)
            {
                _completion.Finish(frame, final);
            }
            else if (frame.CancellationToken.IsCancellationRequested)
            {
                _completion.Abandon(frame);
            }
            else
            {
                // On to the next stage, also while stopping: an accepted frame runs to its final event. A caller that ran
                // the batch takes it next itself (or wakes an executor when it stops).
                lock (_gate)
                {
                    frame.Sequence = _sequence++;
                    _batcher.Enqueue(frame);
                    if (pulse)
                    {
                        Monitor.Pulse(_gate);
                    }
                }
            }
        }

        return runOptions;
    }

}

/// <summary>What the scheduler needs from its engine: estimates, and the bookkeeping of stage runs and of frames that end.</summary>
internal interface IFrameCompletion
{
    /// <summary>The expected time of a run of (stage, batch size) on the stage's current provider.</summary>
    TimeSpan Estimate(int stage, int batch);

    /// <summary>A batch ran: latency estimates, statistics, metrics, the frames' stage spans (<paramref name="batchId"/>
    /// tells the runs of a model apart).</summary>
    void RecordStage(int stage, List<ScheduledFrame> batch, TimeSpan elapsed, long batchId);

    /// <summary>The frame's final event: release its tensors and admission, count it, then tell its sink.</summary>
    void Finish(ScheduledFrame frame, ExitEvent final);

    /// <summary>The frame's caller cancelled: release it without an event.</summary>
    void Abandon(ScheduledFrame frame);
}

/// <summary>What one thread needs to run batches: its lists, its logits buffer and its run options (native, owned).</summary>
internal sealed class RunContext(int maxBatch, int classCount) : IDisposable
{
    public List<ScheduledFrame> Batch { get; } = new(maxBatch);

    public List<ScheduledFrame> Cut { get; } = [];

    public List<ScheduledFrame> Cancelled { get; } = [];

    public List<ExitEvent> Events { get; } = new(2);

    public float[] Logits { get; } = new float[maxBatch * classCount];

    public RunOptions RunOptions { get; set; } = new();

    public void Dispose() => RunOptions.Dispose();
}
