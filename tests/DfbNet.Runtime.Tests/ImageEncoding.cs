using DfbNet.Runtime.Preprocessing;

namespace DfbNet.Runtime.Tests;

/// <summary>Encodes HWC RGB test pixels as PNG or JPEG (the runtime's <see cref="ImageEncoder"/>).</summary>
internal static class ImageEncoding
{
    public static byte[] EncodePng(byte[] hwc, int height, int width, int scale = 1) => ImageEncoder.Png(hwc, height, width, scale);

    public static byte[] EncodeJpeg(byte[] hwc, int height, int width, int quality = 95) => ImageEncoder.Jpeg(hwc, height, width, quality);
}
