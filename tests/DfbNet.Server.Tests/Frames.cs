using DfbNet.Protocol.V1;
using DfbNet.Runtime.Tests;
using Google.Protobuf;

namespace DfbNet.Server.Tests;

/// <summary>CIFAR test images as wire images.</summary>
internal static class Frames
{
    public static Image Raw(int index) => new()
    {
        Raw = new RawImage { Data = ByteString.CopyFrom(CifarSlice.Hwc(index % CifarSlice.Count)), Height = 32, Width = 32, Channels = 3 },
    };

    /// <param name="index">The CIFAR image.</param>
    /// <param name="scale">Upscaled by this factor first (a camera's larger frame, which the server resizes back).</param>
    public static Image Png(int index, int scale = 1) => new() { Encoded = ByteString.CopyFrom(ImageEncoding.EncodePng(CifarSlice.Hwc(index % CifarSlice.Count), 32, 32, scale)) };

    public static Image Jpeg(int index) => new() { Encoded = ByteString.CopyFrom(ImageEncoding.EncodeJpeg(CifarSlice.Hwc(index % CifarSlice.Count), 32, 32)) };

    public static Image CorruptJpeg(int index)
    {
        var jpeg = ImageEncoding.EncodeJpeg(CifarSlice.Hwc(index), 32, 32);
        return new Image { Encoded = ByteString.CopyFrom(jpeg, 0, 250) };
    }
}
