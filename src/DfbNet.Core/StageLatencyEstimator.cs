namespace DfbNet.Core;

/// <summary>
/// An online estimate of each stage's latency on one execution provider, per batch-size bucket (1, 2, 3-4, 5-8, ...,
/// 65-128): an exponentially weighted moving average of the measured time per image, seeded by warm-up runs and
/// refreshed by every run of the stage, whoever's frames it carried. Thread-safe; read on every scheduling decision.
/// </summary>
/// <remarks>
/// An estimate cannot go stale. A stage that no frame reaches for a while (because its estimate, raised by a burst,
/// cut every frame before it) would otherwise keep the raised value for ever: so the part of an estimate above the
/// lowest value the bucket has had decays with the age of its last sample (half-life <see cref="DecayHalfLife"/>),
/// back toward what the stage costs on an idle machine, until fresh samples take over. A bucket without samples is
/// estimated from the nearest bucket that has some, at the same time per image.
/// <para>One run cannot swing it either: a sample counts as at most <see cref="OutlierFactor"/> times the estimate it
/// updates. A run stopped by the OS scheduler or a collection for a few milliseconds would otherwise lift a 0.2 ms
/// estimate past every tight budget, and budgeted frames would be cut before the stage (taking no new sample) until the
/// excess had decayed. A machine that is really slower raises it by a tenth a run at the default smoothing.</para>
/// </remarks>
public sealed class StageLatencyEstimator
{
    /// <summary>The most a sample counts, as a multiple of the estimate it updates.</summary>
    public const double OutlierFactor = 2;

    /// <summary>Buckets of batch sizes: 1, 2, 3-4, 5-8, 9-16, 17-32, 33-64, 65-128 (larger batches count as the last).</summary>
    public const int BucketCount = 8;

    private readonly Lock _gate = new();
    private readonly Bucket[,] _buckets;
    private readonly long[] _samples;
    private readonly double _alpha;
    private readonly TimeProvider _clock;
    private readonly double _halfLifeTicks;

    /// <param name="stageCount">M.</param>
    /// <param name="smoothing">Weight of a new sample in the moving average, in (0, 1].</param>
    /// <param name="clock">The time source of sample ages; the system clock when null.</param>
    /// <param name="decayHalfLife">Half-life of the excess of a stale estimate over its floor; default 1 s, zero for no decay.</param>
    public StageLatencyEstimator(int stageCount, double smoothing = 0.1, TimeProvider? clock = null, TimeSpan? decayHalfLife = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stageCount, 1);
        if (!(smoothing > 0 && smoothing <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, "Smoothing must lie in (0, 1].");
        }

        _buckets = new Bucket[stageCount, BucketCount];
        _samples = new long[stageCount];
        _alpha = smoothing;
        _clock = clock ?? TimeProvider.System;
        DecayHalfLife = decayHalfLife ?? TimeSpan.FromSeconds(1);
        _halfLifeTicks = DecayHalfLife.Ticks;
    }

    public int StageCount => _samples.Length;

    /// <summary>How fast a stale estimate returns toward its floor.</summary>
    public TimeSpan DecayHalfLife { get; }

    /// <summary>The bucket of a batch size.</summary>
    public static int BucketOf(int batch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        var bucket = 0;
        for (var size = 1; size < batch && bucket < BucketCount - 1; size <<= 1)
        {
            bucket++;
        }

        return bucket;
    }

    /// <summary>Records one measured run of a zero-based stage over <paramref name="batch"/> images.</summary>
    public void Record(int stage, TimeSpan elapsed, int batch = 1)
    {
        var perImage = (double)elapsed.Ticks / batch;
        var now = _clock.GetTimestamp();
        lock (_gate)
        {
            _samples[stage]++;
            ref var b = ref _buckets[stage, BucketOf(batch)];
            b.Samples++;

            // The first samples get a plain mean so that one cold run does not dominate for long.
            var weight = Math.Max(_alpha, 1.0 / b.Samples);
            var mean = b.Samples == 1 ? perImage : PerImage(b, now);
            b.MeanTicks = mean + (weight * (Math.Min(perImage, mean * OutlierFactor) - mean));
            b.FloorTicks = b.Samples == 1 ? b.MeanTicks : Math.Min(b.FloorTicks, b.MeanTicks);
            b.LastTimestamp = now;
        }
    }

    /// <summary>The current estimate of a run of a zero-based stage over <paramref name="batch"/> images; zero before any sample.</summary>
    public TimeSpan Estimate(int stage, int batch = 1)
    {
        var now = _clock.GetTimestamp();
        lock (_gate)
        {
            var wanted = BucketOf(batch);

            // The bucket itself, else the nearest measured one (the smaller first: batches grow per image cheaper, so
            // its time per image errs on the safe side).
            for (var distance = 0; distance < BucketCount; distance++)
            {
                foreach (var candidate in (ReadOnlySpan<int>)[wanted - distance, wanted + distance])
                {
                    if (candidate is >= 0 and < BucketCount && _buckets[stage, candidate].Samples > 0)
                    {
                        return TimeSpan.FromTicks((long)Math.Round(PerImage(_buckets[stage, candidate], now) * batch));
                    }
                }
            }

            return TimeSpan.Zero;
        }
    }

    /// <summary>How many runs of a zero-based stage have been recorded, over all batch sizes.</summary>
    public long SampleCount(int stage)
    {
        lock (_gate)
        {
            return _samples[stage];
        }
    }

    private double PerImage(in Bucket b, long now)
    {
        if (_halfLifeTicks <= 0 || b.MeanTicks <= b.FloorTicks)
        {
            return b.MeanTicks;
        }

        var age = _clock.GetElapsedTime(b.LastTimestamp, now).Ticks;
        return b.FloorTicks + ((b.MeanTicks - b.FloorTicks) * Math.Pow(0.5, age / _halfLifeTicks));
    }

    private struct Bucket
    {
        public long Samples;
        public double MeanTicks;
        public double FloorTicks;
        public long LastTimestamp;
    }
}
