using DfbNet.Runtime.Preprocessing;

namespace DfbNet.Runtime.Tests.Preprocessing;

public sealed class DecodeMemoryBudgetTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AcquireAsync_WithRoom_CompletesAtOnce_AndTracksPeak()
    {
        var budget = new DecodeMemoryBudget(100);

        var first = budget.AcquireAsync(40, CancellationToken.None);
        var second = budget.AcquireAsync(60, CancellationToken.None);

        Assert.True(first.IsCompletedSuccessfully);
        Assert.True(second.IsCompletedSuccessfully);
        await first;
        await second;
        Assert.Equal(100, budget.InUse);
        budget.Release(40);
        budget.Release(60);
        Assert.Equal((0L, 100L, 0L), (budget.InUse, budget.Peak, budget.Waited));
    }

    [Fact]
    public async Task AcquireAsync_WhenFull_WaitsUntilEnoughIsReleased()
    {
        var budget = new DecodeMemoryBudget(100);
        await budget.AcquireAsync(70, CancellationToken.None);

        var waiting = budget.AcquireAsync(50, CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, budget.Waiting);

        budget.Release(70);
        await waiting.WaitAsync(Patience);

        Assert.Equal((50L, 0, 1L, 70L), (budget.InUse, budget.Waiting, budget.Waited, budget.Peak));
        budget.Release(50);
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public async Task AcquireAsync_KeepsArrivalOrder_SoThatALargeDecodeIsNotOvertaken()
    {
        var budget = new DecodeMemoryBudget(100);
        await budget.AcquireAsync(80, CancellationToken.None);
        var large = budget.AcquireAsync(50, CancellationToken.None).AsTask();

        // 80 + 10 fits, but the larger decode came first.
        var small = budget.AcquireAsync(10, CancellationToken.None).AsTask();
        Assert.False(small.IsCompleted);
        Assert.Equal(2, budget.Waiting);

        budget.Release(80);
        await Task.WhenAll(large, small).WaitAsync(Patience);
        Assert.Equal(60, budget.InUse);
    }

    [Fact]
    public async Task AcquireAsync_CancelledWhileWaiting_TakesNothing_AndLetsTheNextIn()
    {
        var budget = new DecodeMemoryBudget(100);
        await budget.AcquireAsync(80, CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var cancelled = budget.AcquireAsync(50, cts.Token).AsTask();
        var behind = budget.AcquireAsync(10, CancellationToken.None).AsTask();

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Patience));
        await behind.WaitAsync(Patience);
        Assert.Equal((90L, 0), (budget.InUse, budget.Waiting));
        budget.Release(80);
        budget.Release(10);
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public async Task AcquireAsync_WithCancelledToken_TakesNothing()
    {
        var budget = new DecodeMemoryBudget(100);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => budget.AcquireAsync(10, cts.Token).AsTask());
        Assert.Equal((0L, 0), (budget.InUse, budget.Waiting));
    }

    [Fact]
    public async Task AcquireAsync_OfNothing_DoesNotQueueBehindWaitingDecodes()
    {
        var budget = new DecodeMemoryBudget(100);
        await budget.AcquireAsync(100, CancellationToken.None);
        var waiting = budget.AcquireAsync(10, CancellationToken.None).AsTask();

        Assert.True(budget.AcquireAsync(0, CancellationToken.None).AsTask().IsCompletedSuccessfully);
        Assert.False(waiting.IsCompleted);
    }

    [Fact]
    public void AnImageLargerThanTheBudget_NeverFits_AndItsMessageNamesTheLimitAndTheSetting()
    {
        var budget = new DecodeMemoryBudget(64L * 1024 * 1024);
        var bytes = (4L * 4096 * 4096) + (4 * 32 * 32);

        Assert.True(budget.Fits(64L * 1024 * 1024));
        Assert.False(budget.Fits(bytes));
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = budget.AcquireAsync(bytes, CancellationToken.None).AsTask(); });
        var message = budget.RefusalMessage(bytes);
        Assert.Contains($"{bytes} bytes", message, StringComparison.Ordinal);
        Assert.Contains("at most 67108864 bytes (64 MiB)", message, StringComparison.Ordinal);
        Assert.Contains("DfbNet:DecodeMemoryBytes", message, StringComparison.Ordinal);
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public void Release_OfMoreThanIsHeld_Throws()
    {
        var budget = new DecodeMemoryBudget(100);

        Assert.Throws<InvalidOperationException>(() => budget.Release(1));
    }
}
