using DfbNet.Core;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Runtime.Scheduling;
using Microsoft.Extensions.Time.Testing;

namespace DfbNet.Runtime.Tests.Scheduling;

/// <summary>The batching rule alone, on a fake clock: a stage costs 1 ms per frame plus 1 ms per run.</summary>
public sealed class StageBatcherTests
{
    private static readonly ExitPolicy Policy = new([0.9f, 0.9f]);
    private readonly FakeTimeProvider _clock = new();
    private long _sequence;

    [Fact]
    public void TakeBatch_TakesUpToTheMaximumInKeyOrder()
    {
        var batcher = Create(maxBatch: 4);
        var frames = Enumerable.Range(0, 6).Select(i => Frame($"f{i}", key: 10 - i)).ToList();
        frames.ForEach(batcher.Enqueue);

        var batch = Take(batcher, out var stage);
        Assert.Equal(0, stage);
        Assert.Equal(["f5", "f4", "f3", "f2"], batch.Select(f => f.Request.FrameId));
        Assert.Equal(2, batcher.Count);
    }

    [Fact]
    public void TakeBatch_NeverGrowsABatchPastAMembersBudget()
    {
        // 4.5 ms of budget: a run of 3 frames (4 ms) fits, one of 4 (5 ms) would end late.
        var batcher = Create(maxBatch: 8);
        batcher.Enqueue(Frame("tight", key: 0, budget: TimeSpan.FromMilliseconds(4.5)));
        for (var i = 0; i < 5; i++)
        {
            batcher.Enqueue(Frame($"free{i}", key: 100 + i));
        }

        var batch = Take(batcher, out _);
        Assert.Equal(["tight", "free0", "free1"], batch.Select(f => f.Request.FrameId));
    }

    [Fact]
    public void TakeBatch_CutsAFrameWhoseBudgetCannotBeMetEvenAlone()
    {
        var batcher = Create(maxBatch: 8);
        batcher.Enqueue(Frame("late", key: 0, budget: TimeSpan.FromMilliseconds(5)));
        batcher.Enqueue(Frame("ok", key: 1));
        _clock.Advance(TimeSpan.FromMilliseconds(4));

        var batch = new List<ScheduledFrame>();
        var cut = new List<ScheduledFrame>();
        var stage = batcher.TakeBatch(batch, cut, [], out _);
        Assert.Equal(0, stage);
        Assert.Equal(["late"], cut.Select(f => f.Request.FrameId));
        Assert.Equal(["ok"], batch.Select(f => f.Request.FrameId));
    }

    [Fact]
    public void TakeBatch_AlwaysAnswerRunsExitOneWhateverTheBudget()
    {
        var batcher = Create(maxBatch: 8);
        batcher.Enqueue(Frame("late", key: 0, budget: TimeSpan.FromMilliseconds(1), alwaysAnswer: true));
        _clock.Advance(TimeSpan.FromMilliseconds(4));

        var cut = new List<ScheduledFrame>();
        var batch = new List<ScheduledFrame>();
        batcher.TakeBatch(batch, cut, [], out _);
        Assert.Empty(cut);
        Assert.Single(batch);
    }

    [Fact]
    public void TakeBatch_HoldsAPartialBatchForTheQueueDelay_ButNotPastATightBudget()
    {
        var batcher = Create(maxBatch: 4, delay: TimeSpan.FromMilliseconds(2));
        batcher.Enqueue(Frame("a", key: 0));

        var batch = new List<ScheduledFrame>();
        Assert.Equal(-1, batcher.TakeBatch(batch, [], [], out var wait));
        Assert.Equal(TimeSpan.FromMilliseconds(2), wait);
        Assert.Empty(batch);
        Assert.Equal(1, batcher.Count);

        _clock.Advance(TimeSpan.FromMilliseconds(2));
        Assert.Equal(0, batcher.TakeBatch(batch, [], [], out _));
        Assert.Single(batch);

        // A frame with a tight budget is not delayed: a full batch (5 ms) would not fit in its 4.5 ms, so it runs at once.
        batch.Clear();
        batcher.Enqueue(Frame("tight", key: 0, budget: TimeSpan.FromMilliseconds(4.5)));
        Assert.Equal(0, batcher.TakeBatch(batch, [], [], out _));
        Assert.Equal(["tight"], batch.Select(f => f.Request.FrameId));
    }

    [Fact]
    public void TakeBatch_PrefersTheStageWithTheOldestKey_AndTheDeeperOnATie()
    {
        var batcher = Create(maxBatch: 1);
        batcher.Enqueue(Frame("new", key: 5));
        var deep = Frame("deep", key: 5);
        deep.Evaluation.CompleteStage([0.4f, 0.3f, 0.3f], new List<ExitEvent>());
        batcher.Enqueue(deep);
        batcher.Enqueue(Frame("old", key: 4));

        var first = Take(batcher, out var firstStage);
        Assert.Equal(0, firstStage);
        Assert.Equal(["old"], first.Select(f => f.Request.FrameId));

        var batch = Take(batcher, out var stage);
        Assert.Equal(1, stage);
        Assert.Equal(["deep"], batch.Select(f => f.Request.FrameId));
    }

    [Fact]
    public void TakeBatch_DropsCancelledFrames()
    {
        var batcher = Create(maxBatch: 8);
        using var cts = new CancellationTokenSource();
        batcher.Enqueue(Frame("gone", key: 0, token: cts.Token));
        batcher.Enqueue(Frame("kept", key: 1));
        cts.Cancel();

        var cancelled = new List<ScheduledFrame>();
        var batch = new List<ScheduledFrame>();
        batcher.TakeBatch(batch, [], cancelled, out _);
        Assert.Equal(["gone"], cancelled.Select(f => f.Request.FrameId));
        Assert.Equal(["kept"], batch.Select(f => f.Request.FrameId));
    }

    private StageBatcher Create(int maxBatch, TimeSpan? delay = null) =>
        new([maxBatch, maxBatch], delay ?? TimeSpan.Zero, _clock, static (_, n) => TimeSpan.FromMilliseconds(1 + n));

    private static List<ScheduledFrame> Take(StageBatcher batcher, out int stage)
    {
        var batch = new List<ScheduledFrame>();
        stage = batcher.TakeBatch(batch, [], [], out _);
        return batch;
    }

    private ScheduledFrame Frame(string id, long key, TimeSpan? budget = null, bool alwaysAnswer = false, CancellationToken token = default)
    {
        var request = new FrameRequest(id, ImageSource.Raw(new byte[3], 1, 1), Policy, InferenceMode.FirstExit, budget, _clock.GetTimestamp()) { AlwaysAnswer = alwaysAnswer };
        var evaluation = new FrameEvaluation(id, Policy, 3, InferenceMode.FirstExit, budget, _clock, request.ReceivedTimestamp, alwaysAnswer);
        return new ScheduledFrame(request, evaluation, NullSink.Instance, null, token) { Key = key, Sequence = _sequence++ };
    }

    private sealed class NullSink : IFrameEventSink
    {
        public static readonly NullSink Instance = new();

        public void OnEvent(ExitEvent exitEvent)
        {
        }

        public void OnCancelled()
        {
        }
    }
}
