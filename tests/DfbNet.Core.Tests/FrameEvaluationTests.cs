using DfbNet.Core;
using Microsoft.Extensions.Time.Testing;

namespace DfbNet.Core.Tests;

/// <summary>Modes and budget cuts, driven by a fake clock: each "stage" advances time by a fixed amount.</summary>
public sealed class FrameEvaluationTests
{
    private static readonly TimeSpan StageTime = TimeSpan.FromMilliseconds(10);

    // Logits whose softmax max is known: [z, 0, 0] has max e^z / (e^z + 2).
    private static float[] Logits(float confidence, int cls = 0, int classes = 3)
    {
        // Solve e^z / (e^z + (K-1)) = c for z.
        var z = (float)Math.Log(confidence * (classes - 1) / (1 - confidence));
        var logits = new float[classes];
        logits[cls] = z;
        return logits;
    }

    private static List<ExitEvent> Run(FrameEvaluation frame, FakeTimeProvider clock, StageLatencyEstimator estimator, params float[][] stageLogits)
    {
        var events = new List<ExitEvent>();
        while (frame.TryBeginStage(estimator, out var cut))
        {
            clock.Advance(StageTime);
            frame.CompleteStage(stageLogits[frame.NextStage], events);
        }

        return events;
    }

    private static (FrameEvaluation Frame, FakeTimeProvider Clock, StageLatencyEstimator Estimator) Create(InferenceMode mode, TimeSpan? budget, params float[] thresholds)
    {
        var clock = new FakeTimeProvider();
        var estimator = new StageLatencyEstimator(thresholds.Length);
        for (var s = 0; s < thresholds.Length; s++)
        {
            estimator.Record(s, StageTime);
        }

        var frame = new FrameEvaluation("f", new ExitPolicy(thresholds), 3, mode, budget, clock, clock.GetTimestamp());
        return (frame, clock, estimator);
    }

    [Fact]
    public void FirstExit_StopsAtFirstConfidentExit_WithBelowThresholdEventsBefore()
    {
        var (frame, clock, est) = Create(InferenceMode.FirstExit, null, 0.9f, 0.8f, 0.5f);
        var events = Run(frame, clock, est, Logits(0.6f), Logits(0.85f, cls: 2), Logits(0.99f));

        Assert.Equal([ExitKind.BelowThreshold, ExitKind.EarlyExit], events.Select(e => e.Kind));
        Assert.Equal([1, 2], events.Select(e => e.Exit));
        Assert.Equal([false, true], events.Select(e => e.IsFinal));
        Assert.Equal(2, events[^1].Prediction!.ClassIndex);
        Assert.Equal(0.85f, events[^1].Prediction!.Confidence, 4);
        Assert.Equal([StageTime, 2 * StageTime], events.Select(e => e.ServerTime));
        Assert.True(frame.IsComplete);
    }

    [Fact]
    public void FirstExit_ConfidenceEqualToThresholdDoesNotExit()
    {
        var (frame, clock, est) = Create(InferenceMode.FirstExit, null, 0.75f, 0.0f);
        var events = Run(frame, clock, est, Logits(0.75f), Logits(0.5f, cls: 1));
        Assert.Equal(ExitKind.BelowThreshold, events[0].Kind);
        Assert.Equal(ExitKind.EarlyExit, events[1].Kind);
    }

    [Fact]
    public void FirstExit_FusesAllExitsWhenNoneFires()
    {
        var (frame, clock, est) = Create(InferenceMode.FirstExit, null, 0.99f, 0.99f, 0.99f);
        var l1 = new[] { 2f, 1f, 0f };
        var l2 = new[] { 0f, 2.2f, 0f };
        var l3 = new[] { 1f, 1f, 0f };
        var events = Run(frame, clock, est, l1, l2, l3);

        Assert.Equal([ExitKind.BelowThreshold, ExitKind.BelowThreshold, ExitKind.BelowThreshold, ExitKind.Fused], events.Select(e => e.Kind));
        var expected = new float[3];
        foreach (var l in new[] { l1, l2, l3 })
        {
            var p = new float[3];
            ExitPolicy.Softmax(l, p);
            for (var k = 0; k < 3; k++)
            {
                expected[k] += p[k] / 3;
            }
        }

        var fused = events[^1];
        Assert.True(fused.IsFinal);
        Assert.Equal(0, fused.Exit);
        Assert.Equal(ExitPolicy.ArgMax(expected), fused.Prediction!.ClassIndex);
        for (var k = 0; k < 3; k++)
        {
            Assert.Equal(expected[k], fused.Prediction.Probabilities[k], 5);
        }
    }

    [Fact]
    public void EveryEvent_CarriesRunningFusionOfExitsSoFar()
    {
        var (frame, clock, est) = Create(InferenceMode.Full, null, 0.5f, 0.5f);
        var l1 = new[] { 3f, 0f, 0f };
        var l2 = new[] { 0f, 0f, 1f };
        var events = Run(frame, clock, est, l1, l2);
        var p1 = new float[3];
        var p2 = new float[3];
        ExitPolicy.Softmax(l1, p1);
        ExitPolicy.Softmax(l2, p2);
        Assert.Equal(p1, events[0].RunningFusion!.Probabilities);
        Assert.Equal((p1[2] + p2[2]) / 2, events[1].RunningFusion!.Probabilities[2], 6);
        Assert.Equal(p2, events[1].Prediction!.Probabilities);
    }

    [Fact]
    public void Refine_AnswersEarlyThenRefinesAndEndsWithFusion()
    {
        var (frame, clock, est) = Create(InferenceMode.Refine, TimeSpan.FromSeconds(1), 0.9f, 0.9f, 0.5f);
        var events = Run(frame, clock, est, Logits(0.6f), Logits(0.95f), Logits(0.99f, cls: 1));

        Assert.Equal([ExitKind.BelowThreshold, ExitKind.EarlyExit, ExitKind.Refinement, ExitKind.Fused], events.Select(e => e.Kind));
        Assert.Equal([false, false, false, true], events.Select(e => e.IsFinal));
        Assert.Equal([1, 2, 3, 0], events.Select(e => e.Exit));
    }

    [Fact]
    public void Refine_BudgetCutAfterAnswer_EndsWithFusionSoFar()
    {
        // 10 ms per stage, budget 25 ms: exits 1 and 2 fit, exit 3 (estimated 10 ms at t=20) would end at 30 > 25.
        var (frame, clock, est) = Create(InferenceMode.Refine, TimeSpan.FromMilliseconds(25), 0.5f, 0.5f, 0.5f);
        var events = new List<ExitEvent>();
        ExitEvent? cut = null;
        var stages = new[] { Logits(0.9f), Logits(0.7f, cls: 1), Logits(0.99f) };
        while (frame.TryBeginStage(est, out cut))
        {
            clock.Advance(StageTime);
            frame.CompleteStage(stages[frame.NextStage], events);
        }

        Assert.Equal([ExitKind.EarlyExit, ExitKind.Refinement], events.Select(e => e.Kind));
        Assert.NotNull(cut);
        Assert.Equal(ExitKind.BudgetCut, cut!.Kind);
        Assert.True(cut.IsFinal);
        Assert.Equal(2, cut.ExitsComputed);
        Assert.Same(cut.Prediction, cut.RunningFusion);
        Assert.Equal(events[1].RunningFusion!.Probabilities, cut.Prediction!.Probabilities);
        Assert.Equal(TimeSpan.FromMilliseconds(20), cut.ServerTime);
    }

    [Fact]
    public void FirstExit_BudgetCutBeforeAnyExitFires_AnswersWithFusionSoFar()
    {
        var (frame, clock, est) = Create(InferenceMode.FirstExit, TimeSpan.FromMilliseconds(15), 0.99f, 0.99f, 0.99f);
        var events = new List<ExitEvent>();
        ExitEvent? cut;
        while (frame.TryBeginStage(est, out cut))
        {
            clock.Advance(StageTime);
            frame.CompleteStage(Logits(0.5f, cls: 2), events);
        }

        Assert.Single(events);
        Assert.Equal(ExitKind.BudgetCut, cut!.Kind);
        Assert.Equal(2, cut.Prediction!.ClassIndex);
        Assert.Equal(1, cut.ExitsComputed);
    }

    [Fact]
    public void Budget_StageThatExactlyFitsIsStarted()
    {
        // At t=10 with a 10 ms estimate and a 20 ms budget the stage ends exactly on the budget: allowed.
        var (frame, clock, est) = Create(InferenceMode.FirstExit, TimeSpan.FromMilliseconds(20), 0.99f, 0.99f);
        var events = Run(frame, clock, est, Logits(0.5f), Logits(0.5f));
        Assert.Equal(ExitKind.Fused, events[^1].Kind);
    }

    [Fact]
    public void Budget_SpentBeforeTheFirstStage_EndsAtOnceWithoutAPrediction()
    {
        var (frame, clock, est) = Create(InferenceMode.FirstExit, TimeSpan.FromMilliseconds(1), 0.99f, 0.99f);
        clock.Advance(TimeSpan.FromMilliseconds(5));
        Assert.False(frame.TryBeginStage(est, out var cut));
        Assert.NotNull(cut);
        Assert.Equal(ExitKind.BudgetCut, cut.Kind);
        Assert.True(cut.IsFinal);
        Assert.Equal(0, cut.ExitsComputed);
        Assert.Null(cut.Prediction);
        Assert.True(frame.IsComplete);
    }

    [Fact]
    public void Budget_FirstStageRunsOverBudget_WhenAlwaysAnswer()
    {
        var clock = new FakeTimeProvider();
        var est = new StageLatencyEstimator(2, clock: clock);
        est.Record(0, TimeSpan.FromMilliseconds(10));
        est.Record(1, TimeSpan.FromMilliseconds(10));
        var frame = new FrameEvaluation("f", new ExitPolicy([0.99f, 0.99f]), 3, InferenceMode.FirstExit, TimeSpan.FromMilliseconds(1), clock, clock.GetTimestamp(), alwaysAnswer: true);
        clock.Advance(TimeSpan.FromMilliseconds(5));
        Assert.True(frame.TryBeginStage(est, out var cut));
        Assert.Null(cut);
        var events = new List<ExitEvent>();
        frame.CompleteStage([0.5f, 0.4f, 0.1f], events);

        // Exit 2 is held to the budget: the answer is exit 1's, cut.
        Assert.False(frame.TryBeginStage(est, out cut));
        Assert.Equal(ExitKind.BudgetCut, cut!.Kind);
        Assert.Equal(1, cut.ExitsComputed);
        Assert.NotNull(cut.Prediction);
    }

    [Fact]
    public void Full_IgnoresBudgetAndRunsEveryExit()
    {
        var (frame, clock, est) = Create(InferenceMode.Full, TimeSpan.FromMilliseconds(1), 0.1f, 0.1f, 0.1f);
        var events = Run(frame, clock, est, Logits(0.9f), Logits(0.9f), Logits(0.9f));
        Assert.Equal([ExitKind.EarlyExit, ExitKind.Refinement, ExitKind.Refinement, ExitKind.Fused], events.Select(e => e.Kind));
        Assert.Null(frame.Budget);
    }

    [Fact]
    public void CompleteStage_RejectsWrongLogitCount()
    {
        var (frame, _, _) = Create(InferenceMode.FirstExit, null, 0.5f);
        Assert.Throws<ArgumentException>(() => frame.CompleteStage([1f, 2f], new List<ExitEvent>()));
    }
}
