using DfbNet.Runtime.Tests;

namespace DfbNet.Client.Tests;

/// <summary>CIFAR test images as SDK inputs.</summary>
internal static class Images
{
    public static ImageInput Raw(int index) => ImageInput.FromRgb(CifarSlice.Hwc(index % CifarSlice.Count), 32, 32);

    public static ImageInput Png(int index) => ImageInput.FromEncoded(ImageEncoding.EncodePng(CifarSlice.Hwc(index % CifarSlice.Count), 32, 32));

    /// <summary>A CIFAR image blown up to <paramref name="size"/> squared (nearest neighbour): a frame the server takes a few milliseconds over.</summary>
    public static ImageInput Large(int index, int size)
    {
        var small = CifarSlice.Hwc(index % CifarSlice.Count);
        var big = new byte[size * size * 3];
        for (var y = 0; y < size; y++)
        {
            for (var x = 0; x < size; x++)
            {
                var from = (((y * 32 / size) * 32) + (x * 32 / size)) * 3;
                small.AsSpan(from, 3).CopyTo(big.AsSpan(((y * size) + x) * 3));
            }
        }

        return ImageInput.FromRgb(big, size, size);
    }

    public static async IAsyncEnumerable<InputFrame> LargeFrames(int count, int size = 768)
    {
        for (var i = 0; i < count; i++)
        {
            await Task.Yield();
            yield return new InputFrame($"f{i}", Large(i, size));
        }
    }

    public static async IAsyncEnumerable<InputFrame> Frames(int count, TimeSpan pace = default, string prefix = "f")
    {
        for (var i = 0; i < count; i++)
        {
            if (pace > TimeSpan.Zero && i > 0)
            {
                await Task.Delay(pace);
            }

            yield return new InputFrame($"{prefix}{i}", Raw(i));
        }
    }
}
