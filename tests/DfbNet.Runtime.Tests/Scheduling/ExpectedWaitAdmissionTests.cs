using DfbNet.Core;
using DfbNet.Runtime.Scheduling;
using Microsoft.Extensions.Time.Testing;

namespace DfbNet.Runtime.Tests.Scheduling;

/// <summary>Admission by expected wait: the bound in force follows the measured executor time per frame.</summary>
public sealed class ExpectedWaitAdmissionTests
{
    [Fact]
    public void LoadBound_IsTheFramesTheExecutorsRunWithinTheLimit_AtTheMeasuredCost()
    {
        var clock = new FakeTimeProvider();
        var admission = new ModelAdmission(32, TimeSpan.FromMilliseconds(5), executors: 2, clock);
        Assert.Equal(32, admission.LoadBound);

        // 1 ms of executor time per frame, two executors: 10 frames take 5 ms.
        RunFrames(admission, clock, frames: 40, costPerFrame: TimeSpan.FromMilliseconds(1));
        Assert.Equal(10, admission.LoadBound);
        Assert.Equal((4, 5), (admission.Reserve, admission.ShareFrom));
        Assert.Equal(1.0, admission.CostPerFrame.TotalMilliseconds, 3);

        // Two streams flooding: held to their share of the 10 (5 each) from 5 admitted frames on.
        var a = new AdmissionClient();
        var b = new AdmissionClient();
        for (var i = 0; i < 5; i++)
        {
            Assert.True(admission.TryAdmit(a, out _));
            Assert.True(admission.TryAdmit(b, out _));
        }

        Assert.False(admission.TryAdmit(a, out var code));
        Assert.Equal(FrameErrorCode.ResourceExhausted, code);

        // A stream holding nothing is quiet until refused three times in a second: beyond the load bound it is
        // admitted up to the configured bound and its reserve (36 frames); a stream refused thrice is not.
        var flooding = new AdmissionClient();
        for (var i = 0; i < 3; i++)
        {
            flooding.CountRefusal(Environment.TickCount64);
        }

        Assert.False(admission.TryAdmit(flooding, out code));
        Assert.Equal(FrameErrorCode.Unavailable, code);
        Assert.Contains("DfbNet:MaxExpectedWaitMicroseconds", admission.RefusalMessage("m", code), StringComparison.Ordinal);
        for (var i = 10; i < 36; i++)
        {
            Assert.True(admission.TryAdmit(null, out _));
        }

        Assert.False(admission.TryAdmit(null, out code));
        Assert.Equal(FrameErrorCode.Unavailable, code);
    }

    [Fact]
    public void LoadBound_FollowsACheaperCost_UpToTheConfiguredBound_AndOneSlowWindowMovesItAThirdOfTheWay()
    {
        var clock = new FakeTimeProvider();
        var admission = new ModelAdmission(32, TimeSpan.FromMilliseconds(4), executors: 1, clock);
        RunFrames(admission, clock, frames: 20, costPerFrame: TimeSpan.FromMilliseconds(1));
        Assert.Equal(4, admission.LoadBound);

        // One window at 4 ms a frame: the estimate moves from 1 to 2 ms, not to 4.
        RunFrames(admission, clock, frames: 20, costPerFrame: TimeSpan.FromMilliseconds(4));
        Assert.Equal(2.0, admission.CostPerFrame.TotalMilliseconds, 3);
        Assert.Equal(2, admission.LoadBound);

        // Cheap frames for a while: the bound rises to the configured one and stops there.
        for (var w = 0; w < 30; w++)
        {
            RunFrames(admission, clock, frames: 20, costPerFrame: TimeSpan.FromMicroseconds(10));
        }

        Assert.Equal(32, admission.LoadBound);
    }

    [Fact]
    public void LoadBound_NeverFallsBelowTwoFramesAnExecutor_AndWithoutALimitStaysTheBound()
    {
        var clock = new FakeTimeProvider();
        var tight = new ModelAdmission(32, TimeSpan.FromMicroseconds(1), executors: 3, clock);
        var off = new ModelAdmission(32, TimeSpan.Zero, executors: 3, clock);
        RunFrames(tight, clock, frames: 20, costPerFrame: TimeSpan.FromMilliseconds(10));
        RunFrames(off, clock, frames: 20, costPerFrame: TimeSpan.FromMilliseconds(10));
        Assert.Equal(6, tight.LoadBound);
        Assert.Equal(32, off.LoadBound);
        Assert.Equal(TimeSpan.Zero, off.CostPerFrame);
        Assert.Contains("DfbNet:MaxAdmittedFrames", off.RefusalMessage("m", FrameErrorCode.Unavailable), StringComparison.Ordinal);
    }

    [Fact]
    public void AWindowEndsOnlyAfter16Frames_AndAfter50Milliseconds()
    {
        var clock = new FakeTimeProvider();
        var admission = new ModelAdmission(32, TimeSpan.FromMilliseconds(20), executors: 1, clock);

        // 15 frames over a second: too few frames for a window. The 16th ends it: 1 ms a frame, 20 frames in 20 ms.
        for (var i = 0; i < 15; i++)
        {
            EndFrame(admission);
            clock.Advance(TimeSpan.FromMilliseconds(70));
            admission.RecordRun(TimeSpan.FromMilliseconds(1));
        }

        Assert.Equal(32, admission.LoadBound);
        EndFrame(admission);
        admission.RecordRun(TimeSpan.FromMilliseconds(1));
        Assert.Equal(20, admission.LoadBound);

        // 100 frames at 0.1 ms in 10 ms: too short a window, until the clock passes 50 ms. Then the estimate moves a
        // third of the way from 1 ms to 0.101 ms (0.700 ms): 28 frames in 20 ms.
        for (var i = 0; i < 100; i++)
        {
            EndFrame(admission);
            clock.Advance(TimeSpan.FromMilliseconds(0.1));
            admission.RecordRun(TimeSpan.FromMilliseconds(0.1));
        }

        Assert.Equal(20, admission.LoadBound);
        clock.Advance(TimeSpan.FromMilliseconds(50));
        admission.RecordRun(TimeSpan.FromMilliseconds(0.1));
        Assert.Equal(28, admission.LoadBound);
    }

    [Fact]
    public void Constructor_RefusesANegativeLimit_AndNoExecutors()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ModelAdmission(8, TimeSpan.FromMilliseconds(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ModelAdmission(8, TimeSpan.FromMilliseconds(1), executors: 0));
    }

    private static void EndFrame(ModelAdmission admission)
    {
        Assert.True(admission.TryAdmit(null, out _));
        admission.Release(null);
    }

    /// <summary>One cost window: frames admitted and ended one at a time, each run taking <paramref name="costPerFrame"/>;
    /// the fake clock passes the window's 50 ms before the last run.</summary>
    private static void RunFrames(ModelAdmission admission, FakeTimeProvider clock, int frames, TimeSpan costPerFrame)
    {
        for (var i = 0; i < frames; i++)
        {
            EndFrame(admission);
            if (i == frames - 1)
            {
                clock.Advance(TimeSpan.FromMilliseconds(60));
            }

            admission.RecordRun(costPerFrame);
        }
    }
}
