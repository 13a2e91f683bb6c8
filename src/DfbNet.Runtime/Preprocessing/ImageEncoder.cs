using SkiaSharp;

namespace DfbNet.Runtime.Preprocessing;

/// <summary>Encodes raw HWC RGB pixels as PNG or JPEG with SkiaSharp: frames for load runs, tests and accuracy runs, as a camera sends them.</summary>
public static class ImageEncoder
{
    /// <param name="hwc">The pixels.</param>
    /// <param name="height">Their height.</param>
    /// <param name="width">Their width.</param>
    /// <param name="scale">Upscale (bilinear) by this factor before encoding, as a camera's larger frame of the same scene.</param>
    public static byte[] Png(ReadOnlySpan<byte> hwc, int height, int width, int scale = 1) => Encode(hwc, height, width, SKEncodedImageFormat.Png, 100, scale);

    /// <param name="hwc">The pixels.</param>
    /// <param name="height">Their height.</param>
    /// <param name="width">Their width.</param>
    /// <param name="quality">JPEG quality, 1..100.</param>
    /// <param name="scale">Upscale (bilinear) by this factor before encoding.</param>
    public static byte[] Jpeg(ReadOnlySpan<byte> hwc, int height, int width, int quality, int scale = 1) => Encode(hwc, height, width, SKEncodedImageFormat.Jpeg, quality, scale);

    private static byte[] Encode(ReadOnlySpan<byte> hwc, int height, int width, SKEncodedImageFormat format, int quality, int scale)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(scale, 1);
        if (hwc.Length != 3 * height * width)
        {
            throw new ArgumentException($"{hwc.Length} bytes are not {height}x{width} RGB pixels.", nameof(hwc));
        }

        using var bitmap = ImageDecoder.FromRgb(hwc, width, height);

        using var scaled = scale == 1 ? null : ImageDecoder.Resize(bitmap, width * scale, height * scale);
        using var image = SKImage.FromBitmap(scaled ?? bitmap);
        using var encoded = image.Encode(format, quality) ?? throw new InvalidOperationException($"SkiaSharp could not encode a {width}x{height} image as {format}.");
        return encoded.ToArray();
    }
}
