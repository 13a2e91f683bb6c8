namespace DfbNet.Cli.Load;

/// <summary>
/// When each frame of one stream is due, in seconds from the start of the run. The times depend only on the arguments
/// (never on answers: the load is open loop), so a run can be repeated exactly with the same seed.
/// </summary>
internal static class OpenLoopSchedule
{
    /// <summary>
    /// The arrival times of stream <paramref name="stream"/> (0-based, of <paramref name="streams"/>) at
    /// <paramref name="rate"/> frames/s, before <paramref name="horizonSeconds"/>, in increasing order.
    /// </summary>
    /// <remarks>
    /// Fixed: frame k is due at (k + stream/streams) / rate. Each time is computed from k, not by adding gaps, so that no
    /// rounding error builds up; the phase spreads the streams evenly over one period instead of making them all send at
    /// once, which would be a burst of <paramref name="streams"/> frames every period.
    /// Poisson: gaps are exponential with mean 1/rate (-ln(1-U)/rate, U uniform in [0, 1)), from a
    /// <see cref="Random"/> seeded with <paramref name="seed"/> and the stream index, so streams are independent and
    /// repeatable; the first frame is one gap after the start.
    /// </remarks>
    public static double[] Arrivals(ArrivalProcess process, double rate, int stream, int streams, int seed, double horizonSeconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(streams);
        var times = new List<double>((int)Math.Min(int.MaxValue / 2, Math.Ceiling(rate * horizonSeconds) + 1));
        if (process == ArrivalProcess.Fixed)
        {
            var phase = (double)stream / streams;
            for (long k = 0; ; k++)
            {
                var t = (k + phase) / rate;
                if (t >= horizonSeconds)
                {
                    break;
                }

                times.Add(t);
            }
        }
        else
        {
            // Random(int) is the same sequence on every run and machine (its seeded algorithm is fixed for compatibility).
#pragma warning disable CA5394 // Arrival times need repeatability, not unpredictability.
            var random = new Random(unchecked((seed * 1_000_003) + stream));
            for (var t = Gap(random.NextDouble()); t < horizonSeconds; t += Gap(random.NextDouble()))
            {
                times.Add(t);
            }
#pragma warning restore CA5394
        }

        return [.. times];

        double Gap(double u) => -Math.Log(1 - u) / rate;
    }
}
