using SkiaSharp;

namespace DfbNet.Runtime.Preprocessing;

/// <summary>A small encoded image of the engine's own, for warm-up frames that go through decoding and resizing.</summary>
internal static class SyntheticImage
{
    /// <summary>A PNG gradient of twice <paramref name="width"/> by <paramref name="height"/>, so that it is resized too.</summary>
    public static byte[] Png(int width, int height)
    {
        var info = new SKImageInfo(2 * width, 2 * height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        for (var y = 0; y < info.Height; y++)
        {
            for (var x = 0; x < info.Width; x++)
            {
                bitmap.SetPixel(x, y, new SKColor((byte)(255 * x / info.Width), (byte)(255 * y / info.Height), 128));
            }
        }

        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
