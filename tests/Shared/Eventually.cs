namespace DfbNet.Testing;

/// <summary>Waits for state that other threads change (a frame abandoned on the thread pool, a decode let in).</summary>
internal static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until it holds, failing the test after <paramref name="within"/> (10 s unless given).</summary>
    public static async Task HoldsAsync(Func<bool> condition, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(10));
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not hold in time.");
            await Task.Delay(10);
        }
    }
}
