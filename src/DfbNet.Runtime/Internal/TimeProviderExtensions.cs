namespace DfbNet.Runtime.Internal;

internal static class TimeProviderExtensions
{
    /// <summary>A span in the clock's timestamp ticks, the unit of <see cref="TimeProvider.GetTimestamp"/> differences.</summary>
    public static long ToTimestampTicks(this TimeProvider clock, TimeSpan span) =>
        (long)(span.Ticks * (double)clock.TimestampFrequency / TimeSpan.TicksPerSecond);
}
