using SkiaSharp;

namespace DfbNet.Runtime.Tests;

/// <summary>Encodes HWC RGB test pixels as PNG or JPEG with SkiaSharp.</summary>
internal static class ImageEncoding
{
    public static byte[] EncodePng(byte[] hwc, int height, int width) => Encode(hwc, height, width, SKEncodedImageFormat.Png, 100);

    public static byte[] EncodeJpeg(byte[] hwc, int height, int width, int quality = 95) => Encode(hwc, height, width, SKEncodedImageFormat.Jpeg, quality);

    private static byte[] Encode(byte[] hwc, int height, int width, SKEncodedImageFormat format, int quality)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var pixels = bitmap.GetPixelSpan();
        for (int i = 0, j = 0; i < hwc.Length; i += 3, j += 4)
        {
            pixels[j] = hwc[i];
            pixels[j + 1] = hwc[i + 1];
            pixels[j + 2] = hwc[i + 2];
            pixels[j + 3] = 255;
        }

        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, quality);
        return data.ToArray();
    }
}
