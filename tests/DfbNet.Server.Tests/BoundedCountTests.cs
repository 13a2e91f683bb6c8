using DfbNet.Server.Internal;

namespace DfbNet.Server.Tests;

/// <summary>The stream limits' count: attempts refused at the bound never lift it past the bound.</summary>
public sealed class BoundedCountTests
{
    [Fact]
    public void TryIncrement_StopsAtTheBound()
    {
        var count = 0;
        Assert.True(BoundedCount.TryIncrement(ref count, 2));
        Assert.True(BoundedCount.TryIncrement(ref count, 2));
        Assert.False(BoundedCount.TryIncrement(ref count, 2));
        Assert.Equal(2, count);
    }

    [Fact]
    public async Task RefusedAttempts_OnAnotherThread_NeverRefuseAnAttemptThatFits()
    {
        // One slot is held. A storm of attempts that cannot fit (a bound of one) runs on a second thread, as refused
        // streams of a reconnect storm do; every attempt of this thread fits (a bound of two) and must be let in.
        var count = 1;
        using var stop = new CancellationTokenSource();
        long stormAttempts = 0;
        var storm = Task.Factory.StartNew(
            () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    Assert.False(BoundedCount.TryIncrement(ref count, 1));
                    Interlocked.Increment(ref stormAttempts);
                }
            },
            TaskCreationOptions.LongRunning);

        Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref stormAttempts) > 1000, TimeSpan.FromSeconds(10)), "the other thread did not start");
        var refused = 0;
        for (var i = 0; i < 200_000; i++)
        {
            if (BoundedCount.TryIncrement(ref count, 2))
            {
                Interlocked.Decrement(ref count);
            }
            else
            {
                refused++;
            }
        }

        await stop.CancelAsync();
        await storm;
        Assert.Equal(0, refused);
        Assert.Equal(1, count);
    }
}
