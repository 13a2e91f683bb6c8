namespace DfbNet.Training.Data;

/// <summary>
/// Square RGB images in memory, laid out as CIFAR stores them: one byte per pixel, planar R, G, B planes of
/// <see cref="Side"/> x <see cref="Side"/> per image, and one label byte per image (so at most 256 classes). CIFAR-10's
/// images are 32x32; an image folder's are decoded and resized to the model's input size once, when loaded.
/// </summary>
public sealed class ImageDataset
{
    /// <summary>The most classes a label byte can tell apart.</summary>
    public const int MaxClasses = 256;

    public ImageDataset(int side, byte[] pixels, byte[] labels, IReadOnlyList<string> classes, string name, string source)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(side);
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(classes.Count, MaxClasses);
        if (pixels.Length != labels.Length * 3L * side * side)
        {
            throw new ArgumentException($"{pixels.Length} pixel bytes for {labels.Length} labels of {side}x{side} images.", nameof(pixels));
        }

        Side = side;
        Pixels = pixels;
        Labels = labels;
        Classes = classes;
        Name = name;
        Source = source;
    }

    /// <summary>Width and height of every image.</summary>
    public int Side { get; }

    public int ImageBytes => 3 * Side * Side;

    public byte[] Pixels { get; }

    public byte[] Labels { get; }

    public IReadOnlyList<string> Classes { get; }

    /// <summary>The collection the images belong to (<c>CIFAR-10</c>, or an image folder's name), for the manifest.</summary>
    public string Name { get; }

    /// <summary>Where the images came from and which part of it they are, for logs and the manifest.</summary>
    public string Source { get; }

    public int Count => Labels.Length;

    public ReadOnlySpan<byte> Image(int index) => Pixels.AsSpan(index * ImageBytes, ImageBytes);

    /// <summary>Image <paramref name="index"/> as interleaved RGB rows (HWC), the layout of raw frames; the set stores planes.</summary>
    public byte[] ImageHwc(int index)
    {
        var plane = Side * Side;
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
    public ImageDataset Subset(IReadOnlyList<int> indices, string source)
    {
        var size = ImageBytes;
        var pixels = new byte[indices.Count * size];
        var labels = new byte[indices.Count];
        for (var i = 0; i < indices.Count; i++)
        {
            Image(indices[i]).CopyTo(pixels.AsSpan(i * size));
            labels[i] = Labels[indices[i]];
        }

        return new ImageDataset(Side, pixels, labels, Classes, Name, source);
    }

    public ImageDataset Take(int count) => count >= Count ? this : Subset([.. Enumerable.Range(0, count)], $"{Source}[0..{count})");

    /// <summary>
    /// Splits off a seeded random validation set (held out of training), so calibration never sees test images.
    /// </summary>
    public (ImageDataset Train, ImageDataset Validation) SplitValidation(int validationCount, int seed)
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
        var plane = Side * Side;
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
