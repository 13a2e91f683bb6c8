using SkiaSharp;

namespace DfbNet.Runtime.Preprocessing;

/// <summary>
/// The decode and resize steps of <see cref="ImagePreprocessor"/>: a JPEG or PNG decoded with SkiaSharp, then resized
/// bilinearly to the model's input size. Training decodes image folders through the same steps, so a training image
/// and the same file sent as a frame reach the network as the same pixels.
/// </summary>
public static class ImageDecoder
{
    /// <summary>Bytes per pixel of the decoded bitmaps (RGBA, 8 bits a channel).</summary>
    private const int BytesPerPixel = 4;

    /// <summary>
    /// Decodes <paramref name="bytes"/>, resizes it to <paramref name="width"/> x <paramref name="height"/>, and writes
    /// its pixels as three planes (R, G, B) of bytes into <paramref name="destination"/> (3 * width * height bytes).
    /// </summary>
    /// <exception cref="InvalidImageException">The image is empty, corrupt, truncated, not JPEG or PNG, or larger than <paramref name="maxSourcePixels"/>.</exception>
    public static void DecodePlanar(ReadOnlySpan<byte> bytes, int width, int height, long maxSourcePixels, Span<byte> destination)
    {
        var plane = width * height;
        if (destination.Length < 3 * plane)
        {
            throw new ArgumentException($"Destination holds {destination.Length} bytes; {3 * plane} are needed.", nameof(destination));
        }

        using var bitmap = DecodeResized(bytes, width, height, maxSourcePixels);
        var rgba = bitmap.GetPixelSpan();
        for (int i = 0, p = 0; i < plane; i++, p += 4)
        {
            destination[i] = rgba[p];
            destination[plane + i] = rgba[p + 1];
            destination[(2 * plane) + i] = rgba[p + 2];
        }
    }

    /// <summary>The image decoded to RGBA and resized to <paramref name="width"/> x <paramref name="height"/>; the caller disposes it.</summary>
    internal static SKBitmap DecodeResized(ReadOnlySpan<byte> bytes, int width, int height, long maxSourcePixels)
    {
        var decoded = Decode(bytes, maxSourcePixels);
        if (decoded.Width == width && decoded.Height == height)
        {
            return decoded;
        }

        using (decoded)
        {
            return Resize(decoded, width, height);
        }
    }

    /// <summary>Raw RGB rows (HWC) widened to an opaque RGBA bitmap, for Skia to resize or encode; the caller disposes it.</summary>
    internal static SKBitmap FromRgb(ReadOnlySpan<byte> rgb, int width, int height)
    {
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var rgba = bitmap.GetPixelSpan();
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgba[j] = rgb[i];
            rgba[j + 1] = rgb[i + 1];
            rgba[j + 2] = rgb[i + 2];
            rgba[j + 3] = 255;
        }

        return bitmap;
    }

    /// <summary>Bilinear resize (no mipmaps) of an RGBA bitmap; the caller disposes both.</summary>
    internal static SKBitmap Resize(SKBitmap bitmap, int width, int height)
    {
        var target = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        return bitmap.Resize(target, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None))
            ?? throw new InvalidImageException($"The image could not be resized to {width}x{height}.");
    }

    /// <exception cref="InvalidImageException">The image is wider times higher than <paramref name="maxPixels"/>.</exception>
    internal static void CheckSize(int width, int height, long maxPixels)
    {
        if ((long)width * height > maxPixels)
        {
            throw new InvalidImageException($"The image is {width}x{height}; at most {maxPixels} pixels are accepted.") { TooLarge = true };
        }
    }

    /// <summary>The memory a decode of a <paramref name="width"/> x <paramref name="height"/> image to a
    /// <paramref name="targetWidth"/> x <paramref name="targetHeight"/> input holds at its peak: the RGBA bitmap, and the
    /// resized one beside it while it is written.</summary>
    internal static long DecodedBytes(int width, int height, int targetWidth, int targetHeight) =>
        (BytesPerPixel * (long)width * height) + (width == targetWidth && height == targetHeight ? 0 : BytesPerPixel * (long)targetWidth * targetHeight);

    /// <summary>The image's size from its header alone: no pixel is decoded.</summary>
    /// <exception cref="InvalidImageException">The image is empty, not a readable JPEG or PNG, or larger than <paramref name="maxPixels"/>.</exception>
    internal static SKSizeI ReadSize(ReadOnlySpan<byte> bytes, long maxPixels)
    {
        using var data = Copy(bytes);
        using var codec = Open(data, maxPixels);
        return codec.Info.Size;
    }

    private static SKBitmap Decode(ReadOnlySpan<byte> bytes, long maxPixels)
    {
        using var data = Copy(bytes);
        using var codec = Open(data, maxPixels);
        var info = codec.Info;
        var decodeInfo = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var bitmap = new SKBitmap(decodeInfo);
        var result = codec.GetPixels(decodeInfo, bitmap.GetPixels());
        if (result != SKCodecResult.Success)
        {
            bitmap.Dispose();

            // IncompleteInput is a truncated file: refuse it rather than classify a half-grey frame.
            throw new InvalidImageException($"The {codec.EncodedFormat} image could not be decoded: {result}.");
        }

        return bitmap;
    }

    private static SKData Copy(ReadOnlySpan<byte> bytes) => bytes.IsEmpty
        ? throw new InvalidImageException("The image is empty (0 bytes).")
        : SKData.CreateCopy(bytes);

    /// <summary>A codec for a JPEG or PNG no larger than <paramref name="maxPixels"/>; the caller disposes it.</summary>
    private static SKCodec Open(SKData data, long maxPixels)
    {
        var codec = SKCodec.Create(data)
            ?? throw new InvalidImageException($"The image ({data.Size} bytes) is not a readable JPEG or PNG.");
        try
        {
            var format = codec.EncodedFormat;
            if (format is not (SKEncodedImageFormat.Jpeg or SKEncodedImageFormat.Png))
            {
                throw new InvalidImageException($"Image format {format} is not supported; send JPEG or PNG.");
            }

            // The size is known before any pixel is decoded, so an oversized image costs nothing.
            CheckSize(codec.Info.Width, codec.Info.Height, maxPixels);
            return codec;
        }
        catch
        {
            codec.Dispose();
            throw;
        }
    }
}
