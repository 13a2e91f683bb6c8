using static TorchSharp.torch;

namespace DfbNet.Training.Data;

/// <summary>
/// Builds input batches straight from the data set's bytes: resize, crop, flip and normalise are one bilinear sampling pass
/// per image (PyTorch's align_corners=false convention), images in parallel, into one float buffer that becomes the
/// batch tensor. The random choices are drawn in order from the caller's <see cref="Random"/> before the parallel part,
/// so a batch depends only on that generator's state (exact resume).
/// </summary>
/// <summary>JPEG round trips in training: the share of images, and the range of qualities drawn.</summary>
public sealed record JpegAugmentation(double Probability, int QualityMin = 60, int QualityMax = 95)
{
    public void Validate()
    {
        if (Probability is < 0 or > 1 || QualityMin < 1 || QualityMax > 100 || QualityMin > QualityMax)
        {
            throw new ArgumentException($"JPEG augmentation {Probability} at qualities {QualityMin}..{QualityMax}: the share must lie in [0, 1] and the qualities in 1..100, in order.");
        }
    }
}

internal static class BatchBuilder
{
    /// <summary>An augmented training batch [B, 3, crop, crop] and its labels [B].</summary>
    /// <param name="data">The images.</param>
    /// <param name="indices">The batch's images.</param>
    /// <param name="recipe">Resize, crop and normalisation.</param>
    /// <param name="random">Every random choice, drawn in order.</param>
    /// <param name="jpeg">With this probability an image is first JPEG-encoded at a quality drawn from the range and
    /// decoded again, as a camera's frame is; null or probability 0 for none (and no draws, so earlier runs replay).</param>
    public static (Tensor Images, Tensor Labels) Train(ImageDataset data, ReadOnlySpan<int> indices, InputRecipe recipe, Random random, JpegAugmentation? jpeg = null)
    {
        var n = indices.Length;
        var size = recipe.CropSize;
        var plane = size * size;
        var buffer = new float[n * 3 * plane];
        var labels = new long[n];
        var jobs = new (int Index, int H, int W, int Y, int X, bool Flip, int Quality)[n];
        for (var i = 0; i < n; i++)
        {
            var h = random.Next(recipe.ScaleMin, recipe.ScaleMax + 1);
            var w = random.Next(recipe.ScaleMin, recipe.ScaleMax + 1);
            var y = random.Next(0, h - size + 1);
            var x = random.Next(0, w - size + 1);
            var flip = random.Next(2) == 1;
            var quality = jpeg is { Probability: > 0 } j && random.NextDouble() < j.Probability ? random.Next(j.QualityMin, j.QualityMax + 1) : 0;
            jobs[i] = (indices[i], h, w, y, x, flip, quality);
            labels[i] = data.Labels[indices[i]];
        }

        Parallel.For(0, n, i =>
        {
            var j = jobs[i];
            var image = j.Quality > 0 ? ThroughJpeg(data, j.Index, j.Quality) : data.Image(j.Index);
            Sample(image, data.Side, j.H, j.W, j.Y, j.X, j.Flip, size, recipe, buffer.AsSpan(i * 3 * plane, 3 * plane));
        });
        return (tensor(buffer, [n, 3, size, size]), tensor(labels));
    }

    /// <summary>Image <paramref name="index"/> (planar) after a JPEG round trip at <paramref name="quality"/>, through the
    /// server's own decoder.</summary>
    private static byte[] ThroughJpeg(ImageDataset data, int index, int quality)
    {
        var bytes = DfbNet.Runtime.Preprocessing.ImageEncoder.Jpeg(data.ImageHwc(index), data.Side, data.Side, quality);
        var planar = new byte[data.ImageBytes];
        DfbNet.Runtime.Preprocessing.ImageDecoder.DecodePlanar(bytes, data.Side, data.Side, (long)data.Side * data.Side, planar);
        return planar;
    }

    /// <summary>Test-time inputs of images [start, start + count): resize to the test size, no crop, no flip.</summary>
    public static (Tensor Images, Tensor Labels) Test(ImageDataset data, int start, int count, InputRecipe recipe)
    {
        var size = recipe.TestSize;
        var buffer = TestPixels(data, start, count, recipe);
        var labels = new long[count];
        for (var i = 0; i < count; i++)
        {
            labels[i] = data.Labels[start + i];
        }

        return (tensor(buffer, [count, 3, size, size]), tensor(labels));
    }

    /// <summary>The normalised test-time pixels (NCHW) of images [start, start + count), as stage 1 receives them.</summary>
    public static float[] TestPixels(ImageDataset data, int start, int count, InputRecipe recipe)
    {
        var size = recipe.TestSize;
        var plane = size * size;
        var buffer = new float[count * 3 * plane];
        Parallel.For(0, count, i =>
            Sample(data.Image(start + i), data.Side, size, size, 0, 0, false, size, recipe, buffer.AsSpan(i * 3 * plane, 3 * plane)));
        return buffer;
    }

    /// <summary>
    /// Output pixel (i, j) of the crop is pixel (i + y, j' + x) of the source resized to h x w (j' = size-1-j when flipped),
    /// sampled bilinearly from the <paramref name="side"/> x <paramref name="side"/> source (at h = w = side, no crop and
    /// no flip, the source pixels themselves: an image folder stored at the test size reaches the network unresampled).
    /// </summary>
    internal static void Sample(ReadOnlySpan<byte> image, int side, int h, int w, int y, int x, bool flip, int size, InputRecipe recipe, Span<float> destination)
    {
        Span<int> x0 = stackalloc int[size];
        Span<int> x1 = stackalloc int[size];
        Span<float> wx = stackalloc float[size];
        var scaleX = side / (float)w;
        var scaleY = side / (float)h;
        for (var j = 0; j < size; j++)
        {
            var dx = (flip ? size - 1 - j : j) + x;
            var sx = Math.Max(((dx + 0.5f) * scaleX) - 0.5f, 0f);
            var ix = Math.Min((int)sx, side - 1);
            x0[j] = ix;
            x1[j] = Math.Min(ix + 1, side - 1);
            wx[j] = sx - ix;
        }

        for (var c = 0; c < 3; c++)
        {
            var src = image.Slice(c * side * side, side * side);
            var mul = recipe.Multiplier(c);
            var add = recipe.Offset(c);
            var dst = destination.Slice(c * size * size, size * size);
            for (var i = 0; i < size; i++)
            {
                var sy = Math.Max(((i + y + 0.5f) * scaleY) - 0.5f, 0f);
                var iy = Math.Min((int)sy, side - 1);
                var iy1 = Math.Min(iy + 1, side - 1);
                var wy = sy - iy;
                var row0 = src.Slice(iy * side, side);
                var row1 = src.Slice(iy1 * side, side);
                var outRow = dst.Slice(i * size, size);
                for (var j = 0; j < size; j++)
                {
                    var top = row0[x0[j]] + ((row0[x1[j]] - row0[x0[j]]) * wx[j]);
                    var bottom = row1[x0[j]] + ((row1[x1[j]] - row1[x0[j]]) * wx[j]);
                    var v = top + ((bottom - top) * wy);
                    outRow[j] = (v * mul) + add;
                }
            }
        }
    }
}
