namespace DfbNet.Training.Data;

/// <summary>CIFAR images as stored on disk: one byte per pixel, planar R, G, B planes of 32x32 per image.</summary>
public sealed class CifarDataset
{
    public const int Side = 32;
    public const int ImageBytes = 3 * Side * Side;

    public CifarDataset(byte[] pixels, byte[] labels, IReadOnlyList<string> classes, string source)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        if (pixels.Length != labels.Length * ImageBytes)
        {
            throw new ArgumentException($"{pixels.Length} pixel bytes for {labels.Length} labels.", nameof(pixels));
        }

        Pixels = pixels;
        Labels = labels;
        Classes = classes;
        Source = source;
    }

    public byte[] Pixels { get; }

    public byte[] Labels { get; }

    public IReadOnlyList<string> Classes { get; }

    /// <summary>Where the images came from, for logs and the manifest.</summary>
    public string Source { get; }

    public int Count => Labels.Length;

    public ReadOnlySpan<byte> Image(int index) => Pixels.AsSpan(index * ImageBytes, ImageBytes);

    /// <summary>Image <paramref name="index"/> as interleaved RGB rows (HWC), the layout of raw frames; CIFAR stores planes.</summary>
    public byte[] ImageHwc(int index)
    {
        const int plane = Side * Side;
        var planar = Image(index);
        var hwc = new byte[3 * plane];
        for (var p = 0; p < plane; p++)
        {
            hwc[3 * p] = planar[p];
            hwc[(3 * p) + 1] = planar[plane + p];
            hwc[(3 * p) + 2] = planar[(2 * plane) + p];
        }

        return hwc;
    }

    /// <summary>The images at <paramref name="indices"/>, in that order (a split or a slice).</summary>
    public CifarDataset Subset(IReadOnlyList<int> indices, string source)
    {
        var pixels = new byte[indices.Count * ImageBytes];
        var labels = new byte[indices.Count];
        for (var i = 0; i < indices.Count; i++)
        {
            Image(indices[i]).CopyTo(pixels.AsSpan(i * ImageBytes));
            labels[i] = Labels[indices[i]];
        }

        return new CifarDataset(pixels, labels, Classes, source);
    }

    public CifarDataset Take(int count) => count >= Count ? this : Subset([.. Enumerable.Range(0, count)], $"{Source}[0..{count})");

    /// <summary>
    /// Splits off a seeded random validation set (held out of training), so calibration never sees test images.
    /// </summary>
    public (CifarDataset Train, CifarDataset Validation) SplitValidation(int validationCount, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(validationCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(validationCount, Count);
        var order = Enumerable.Range(0, Count).ToArray();
        new Random(seed).Shuffle(order);
        var validation = order[..validationCount];
        var train = order[validationCount..];
        Array.Sort(validation);
        Array.Sort(train);
        return (Subset(train, $"{Source} minus validation (seed {seed})"), Subset(validation, $"{Source} validation {validationCount} (seed {seed})"));
    }

    /// <summary>Per-channel mean and standard deviation of pixel/255 over the whole set (the input normalisation).</summary>
    public (float[] Mean, float[] Std) ChannelStatistics()
    {
        var mean = new float[3];
        var std = new float[3];
        const int plane = Side * Side;
        for (var c = 0; c < 3; c++)
        {
            long sum = 0;
            long sumSquares = 0;
            for (var i = 0; i < Count; i++)
            {
                foreach (var p in Pixels.AsSpan((i * ImageBytes) + (c * plane), plane))
                {
                    sum += p;
                    sumSquares += p * p;
                }
            }

            var n = (double)Count * plane;
            var m = sum / n;
            mean[c] = (float)(m / 255.0);
            std[c] = (float)(Math.Sqrt(Math.Max((sumSquares / n) - (m * m), 1e-12)) / 255.0);
        }

        return (mean, std);
    }
}
