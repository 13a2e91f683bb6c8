using DfbNet.Core;

namespace DfbNet.Core.Tests;

public sealed class ExitPolicyTests
{
    [Fact]
    public void Softmax_MatchesHandComputation()
    {
        // softmax([1, 2, 3]) = e^[1,2,3] / (e + e^2 + e^3)
        var p = new float[3];
        ExitPolicy.Softmax([1f, 2f, 3f], p);
        var sum = Math.E + Math.Exp(2) + Math.Exp(3);
        Assert.Equal(Math.E / sum, p[0], 6);
        Assert.Equal(Math.Exp(2) / sum, p[1], 6);
        Assert.Equal(Math.Exp(3) / sum, p[2], 6);
    }

    [Fact]
    public void Softmax_IsStableForLargeLogits()
    {
        var p = new float[2];
        ExitPolicy.Softmax([1000f, 1000f], p);
        Assert.Equal(0.5f, p[0], 6);
        Assert.Equal(0.5f, p[1], 6);
    }

    [Fact]
    public void ArgMax_TieGoesToLowestIndex()
    {
        Assert.Equal(1, ExitPolicy.ArgMax([0.1f, 0.45f, 0.45f]));
    }

    [Fact]
    public void ShouldExit_IsStrict_ConfidenceEqualToThresholdDoesNotExit()
    {
        var policy = new ExitPolicy([0.75f, 0.5f]);
        Assert.False(policy.ShouldExit(0, 0.75f));
        Assert.True(policy.ShouldExit(0, 0.7500001f));
        Assert.False(policy.ShouldExit(1, 0.5f));
    }

    [Fact]
    public void Decide_ExitsAtFirstConfidentExit()
    {
        var policy = new ExitPolicy([0.9f, 0.8f, 0.0f]);
        var result = policy.Decide([
            [0.5f, 0.3f, 0.2f],   // 0.5 <= 0.9: go on
            [0.1f, 0.85f, 0.05f], // 0.85 > 0.8: exit 2, class 1
            [0.0f, 0.0f, 1.0f],
        ]);
        Assert.Equal((1, 2), result);
    }

    [Fact]
    public void Decide_FusesAllExitsWhenNoneIsConfident()
    {
        // Hand computation: sum = [0.6+0.2+0.5, 0.4+0.5+0.2, 0+0.3+0.3] = [1.3, 1.1, 0.6]; mean argmax = 0.
        // Exit 3 alone would say class 0 too, but exit 2 alone says class 1: fusion decides.
        var policy = new ExitPolicy([0.6f, 0.5f, 0.5f]);
        var result = policy.Decide([
            [0.6f, 0.4f, 0.0f],  // 0.6 == p1: not strictly greater, no exit
            [0.2f, 0.5f, 0.3f],  // 0.5 == p2: no exit
            [0.5f, 0.2f, 0.3f],  // 0.5 == p3: no exit
        ]);
        Assert.Equal((0, 0), result);
    }

    [Fact]
    public void Decide_FusionTieGoesToLowestClass()
    {
        var policy = new ExitPolicy([1f, 1f]);
        var result = policy.Decide([
            [0.6f, 0.4f],
            [0.4f, 0.6f],
        ]);
        Assert.Equal((0, 0), result);
    }

    [Fact]
    public void Decide_LastExitFiresOnItsOwnThreshold()
    {
        var policy = new ExitPolicy([0.99f, 0.99f, 0.75f]);
        var result = policy.Decide([
            [0.5f, 0.5f],
            [0.6f, 0.4f],
            [0.2f, 0.8f],
        ]);
        Assert.Equal((1, 3), result);
    }

    [Theory]
    [InlineData(-0.01f)]
    [InlineData(1.01f)]
    [InlineData(float.NaN)]
    public void Constructor_RejectsThresholdOutsideUnitInterval(float bad)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExitPolicy([0.5f, bad]));
    }
}
