using DfbNet.Core.Manifest;
using DfbNet.Runtime.Preprocessing;

namespace DfbNet.Runtime.Tests.Preprocessing;

public sealed class ImagePreprocessorTests
{
    private static readonly InputSpec Spec = new()
    {
        Width = 32,
        Height = 32,
        Normalization = new NormalizationSpec { Scale = 1f / 255f, Mean = [0.5f, 0.25f, 0f], Std = [0.5f, 0.25f, 1f] },
    };

    [Fact]
    public void Raw_NormalisesPerChannelIntoChw()
    {
        var pre = new ImagePreprocessor(Spec);
        var hwc = CifarSlice.Hwc(0);
        var tensor = new float[pre.TensorLength];
        pre.Process(ImageSource.Raw(hwc, 32, 32), tensor);

        // Pixel (row 2, col 3): HWC index (2*32+3)*3; CHW index c*1024 + 2*32+3.
        var p = (2 * 32) + 3;
        Assert.Equal(((hwc[3 * p] / 255f) - 0.5f) / 0.5f, tensor[p], 5);
        Assert.Equal(((hwc[(3 * p) + 1] / 255f) - 0.25f) / 0.25f, tensor[1024 + p], 5);
        Assert.Equal(hwc[(3 * p) + 2] / 255f, tensor[2048 + p], 5);
    }

    [Fact]
    public void Png_DecodesToTheSameTensorAsRaw()
    {
        var pre = new ImagePreprocessor(Spec);
        var hwc = CifarSlice.Hwc(9);
        var raw = new float[pre.TensorLength];
        var png = new float[pre.TensorLength];
        pre.Process(ImageSource.Raw(hwc, 32, 32), raw);
        pre.Process(ImageSource.Encoded(ImageEncoding.EncodePng(hwc, 32, 32)), png);
        Assert.Equal(raw, png);
    }

    [Fact]
    public void Jpeg_DecodesCloseToRaw()
    {
        var pre = new ImagePreprocessor(Spec);
        var hwc = CifarSlice.Hwc(11);
        var raw = new float[pre.TensorLength];
        var jpeg = new float[pre.TensorLength];
        pre.Process(ImageSource.Raw(hwc, 32, 32), raw);
        pre.Process(ImageSource.Encoded(ImageEncoding.EncodeJpeg(hwc, 32, 32, quality: 100)), jpeg);
        var meanAbs = raw.Zip(jpeg, (a, b) => Math.Abs(a - b)).Average();
        Assert.InRange(meanAbs, 0, 0.1);
    }

    [Fact]
    public void LargerRawAndEncodedImages_ResizeIdentically()
    {
        var pre = new ImagePreprocessor(Spec);
        var big = new byte[64 * 64 * 3];
        new Random(3).NextBytes(big);
        var raw = new float[pre.TensorLength];
        var png = new float[pre.TensorLength];
        pre.Process(ImageSource.Raw(big, 64, 64), raw);
        pre.Process(ImageSource.Encoded(ImageEncoding.EncodePng(big, 64, 64)), png);
        Assert.Equal(raw, png);
    }

    public static TheoryData<string, byte[]> BadImages()
    {
        var jpeg = ImageEncoding.EncodeJpeg(CifarSlice.Hwc(1), 32, 32);
        var png = ImageEncoding.EncodePng(CifarSlice.Hwc(1), 32, 32);
        var garbage = new byte[500];
        new Random(1).NextBytes(garbage);
        var corruptPng = (byte[])png.Clone();
        Array.Fill<byte>(corruptPng, 0x5A, 40, corruptPng.Length - 40);
        return new TheoryData<string, byte[]>
        {
            { "truncated jpeg", jpeg[..(jpeg.Length / 2)] },
            { "truncated png", png[..(png.Length / 2)] },
            { "corrupt png body", corruptPng },
            { "text", "us-ascii text, not an image"u8.ToArray() },
            { "random bytes", garbage },
            { "empty", [] },
        };
    }

    [Theory]
    [MemberData(nameof(BadImages))]
    public void BadImage_ThrowsInvalidImage(string what, byte[] bytes)
    {
        var pre = new ImagePreprocessor(Spec);
        var ex = Assert.Throws<InvalidImageException>(() => pre.Process(ImageSource.Encoded(bytes), new float[pre.TensorLength]));
        Assert.False(ex.TooLarge, what);
    }

    [Fact]
    public void OversizedImage_IsRefusedBeforeDecoding()
    {
        var pre = new ImagePreprocessor(Spec, maxSourcePixels: 32 * 32);
        var png = ImageEncoding.EncodePng(new byte[64 * 64 * 3], 64, 64);
        var ex = Assert.Throws<InvalidImageException>(() => pre.Process(ImageSource.Encoded(png), new float[pre.TensorLength]));
        Assert.True(ex.TooLarge);
        Assert.Contains("64x64", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RawWithFourChannels_IsRejected()
    {
        var pre = new ImagePreprocessor(Spec);
        Assert.Throws<InvalidImageException>(() => pre.Process(ImageSource.Raw(new byte[32 * 32 * 4], 32, 32, 4), new float[pre.TensorLength]));
    }

    [Fact]
    public void DecodeBytes_ReadsTheSizeFromTheHeader_AndCountsEveryBitmapOfTheDecode()
    {
        var pre = new ImagePreprocessor(Spec);
        var png = ImageEncoding.EncodePng(new byte[64 * 48 * 3], 48, 64);

        // The 64x48 RGBA bitmap and the 32x32 one it is resized to.
        Assert.Equal((64 * 48 * 4) + (32 * 32 * 4), pre.DecodeBytes(ImageSource.Encoded(png)));
        Assert.Equal(32 * 32 * 4, pre.DecodeBytes(ImageSource.Encoded(ImageEncoding.EncodePng(CifarSlice.Hwc(0), 32, 32))));
        Assert.Equal((64 * 48 * 4) + (32 * 32 * 4), pre.DecodeBytes(ImageSource.Raw(new byte[64 * 48 * 3], 48, 64)));

        // No bitmap at all: a raw image of the model's size, a ready tensor.
        Assert.Equal(0, pre.DecodeBytes(ImageSource.Raw(CifarSlice.Hwc(0), 32, 32)));
        Assert.Equal(0, pre.DecodeBytes(ImageSource.Tensor(new byte[3 * 32 * 32 * sizeof(float)], 3, 32, 32)));
    }

    [Fact]
    public void DecodeBytes_RefusesWhatProcessRefuses_BeforeDecoding()
    {
        var pre = new ImagePreprocessor(Spec, maxSourcePixels: 32 * 32);
        var png = ImageEncoding.EncodePng(new byte[64 * 64 * 3], 64, 64);

        Assert.True(Assert.Throws<InvalidImageException>(() => pre.DecodeBytes(ImageSource.Encoded(png))).TooLarge);
        Assert.False(Assert.Throws<InvalidImageException>(() => pre.DecodeBytes(ImageSource.Encoded("not an image"u8.ToArray()))).TooLarge);
    }
}
