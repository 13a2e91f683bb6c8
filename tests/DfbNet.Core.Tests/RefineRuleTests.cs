using Microsoft.Extensions.Time.Testing;

namespace DfbNet.Core.Tests;

/// <summary>Refine mode's final answer: each rule on known distributions, and the frame's final event under a rule.</summary>
public sealed class RefineRuleTests
{
    // Exit 1 unsure (class 2), exit 2 answers (class 0, 0.8), exit 3 leans to class 1 (0.6).
    private static readonly float[][] Exits = [[0.2f, 0.2f, 0.6f], [0.8f, 0.1f, 0.1f], [0.3f, 0.6f, 0.1f]];

    [Theory]
    [InlineData(RefineRule.Fusion, -1, new[] { 1.3f / 3, 0.9f / 3, 0.8f / 3 })]
    [InlineData(RefineRule.FusionFromAnswer, -1, new[] { 0.55f, 0.35f, 0.1f })]
    [InlineData(RefineRule.Deepest, 2, new[] { 0.3f, 0.6f, 0.1f })]
    [InlineData(RefineRule.MostConfident, 1, new[] { 0.8f, 0.1f, 0.1f })]
    public void Combine_GivesEachRulesDistribution(RefineRule rule, int single, float[] expected)
    {
        var result = new float[3];
        Assert.Equal(single, RefineRules.Combine(rule, Exits, answered: 1, result));
        Assert.Equal(expected, result, (a, b) => Math.Abs(a - b) < 1e-6);
    }

    [Fact]
    public void ConfidenceWeighted_WeighsEachExitByItsLargestProbability()
    {
        var result = new float[3];
        RefineRules.Combine(RefineRule.ConfidenceWeighted, Exits, answered: 1, result);
        var w = new[] { 0.6f, 0.8f, 0.6f };
        for (var k = 0; k < 3; k++)
        {
            Assert.Equal(((w[0] * Exits[0][k]) + (w[1] * Exits[1][k]) + (w[2] * Exits[2][k])) / w.Sum(), result[k], 5);
        }
    }

    [Fact]
    public void Names_RoundTrip_AndUnknownNamesAreRefused()
    {
        foreach (var rule in RefineRules.All)
        {
            Assert.True(RefineRules.TryParse(RefineRules.Name(rule), out var parsed));
            Assert.Equal(rule, parsed);
        }

        Assert.False(RefineRules.TryParse("mean", out _));
        Assert.Equal(5, RefineRules.All.Count);
    }

    [Theory]
    [InlineData(RefineRule.Fusion, 2)]
    [InlineData(RefineRule.FusionFromAnswer, 0)]
    [InlineData(RefineRule.MostConfident, 0)]
    [InlineData(RefineRule.Deepest, 1)]
    public void RefineFrame_EndsWithTheRulesAnswer_AndKeepsTheRunningFusionBesideIt(RefineRule rule, int expectedClass)
    {
        // Exit 1 unsure (class 2 at 0.95, under its 0.99), exit 2 answers class 0 at 0.7, exit 3 says class 1 at 0.65.
        var clock = new FakeTimeProvider();
        var frame = new FrameEvaluation("f", new ExitPolicy([0.99f, 0.6f, 0.5f], refineRule: rule), 3, InferenceMode.Refine, null, clock, clock.GetTimestamp());
        var events = new List<ExitEvent>();
        foreach (var probabilities in new[] { new[] { 0.02f, 0.03f, 0.95f }, [0.7f, 0.2f, 0.1f], [0.3f, 0.65f, 0.05f] })
        {
            Assert.True(frame.TryBeginStage(TimeSpan.Zero, out _));
            frame.CompleteStage([.. probabilities.Select(p => MathF.Log(p))], events);
        }

        Assert.Equal([ExitKind.BelowThreshold, ExitKind.EarlyExit, ExitKind.Refinement, ExitKind.Fused], events.Select(e => e.Kind));
        var final = events[^1];
        Assert.Equal(expectedClass, final.Prediction!.ClassIndex);
        Assert.Equal(events[2].RunningFusion!.Probabilities, final.RunningFusion!.Probabilities);
    }

    [Fact]
    public void FramesNoExitAnswered_AndFirstExitAndFullModes_StayWithFusion()
    {
        foreach (var mode in new[] { InferenceMode.FirstExit, InferenceMode.Refine, InferenceMode.Full })
        {
            var clock = new FakeTimeProvider();
            var frame = new FrameEvaluation("f", new ExitPolicy([0.99f, 0.99f, 0.99f], refineRule: RefineRule.Deepest), 3, mode, null, clock, clock.GetTimestamp());
            var events = new List<ExitEvent>();
            foreach (var probabilities in new[] { new[] { 0.6f, 0.3f, 0.1f }, [0.6f, 0.3f, 0.1f], [0.2f, 0.7f, 0.1f] })
            {
                frame.TryBeginStage(TimeSpan.Zero, out _);
                frame.CompleteStage([.. probabilities.Select(p => MathF.Log(p))], events);
            }

            Assert.Equal(ExitKind.Fused, events[^1].Kind);
            Assert.Equal(0, events[^1].Prediction!.ClassIndex);
        }
    }
}
