namespace DfbNet.Server.Internal;

/// <summary>A count that never goes past its bound, not even for a moment: an attempt that would pass it changes nothing.
/// (Incrementing, then decrementing on refusal, lets refused attempts, many a second in a reconnect storm, lift the count
/// above the truth, so that an attempt that fits is refused.)</summary>
internal static class BoundedCount
{
    /// <summary>Adds one to <paramref name="count"/> unless it is at <paramref name="max"/> already.</summary>
    public static bool TryIncrement(ref int count, int max)
    {
        var current = Volatile.Read(ref count);
        while (current < max)
        {
            var seen = Interlocked.CompareExchange(ref count, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }
}
