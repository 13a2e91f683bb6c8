using DfbNet.Core.Manifest;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Training.Data;

namespace DfbNet.Training.Tests;

public sealed class BatchBuilderTests
{
    private static readonly InputRecipe Recipe32 = new(32, 32, 32, 40, [0.49f, 0.48f, 0.45f], [0.25f, 0.24f, 0.26f]);

    [Fact]
    public void TestPixels_EqualTheServersPreprocessorBitForBit_At32()
    {
        var data = TestData.Slice();
        var ours = BatchBuilder.TestPixels(data, 0, 8, Recipe32);
        var pre = new ImagePreprocessor(new InputSpec
        {
            Width = 32,
            Height = 32,
            Normalization = new NormalizationSpec { Scale = 1f / 255f, Mean = Recipe32.Mean, Std = Recipe32.Std },
        });
        var served = new float[8 * pre.TensorLength];
        for (var i = 0; i < 8; i++)
        {
            var planar = data.Image(i);
            var hwc = new byte[3072];
            for (var p = 0; p < 1024; p++)
            {
                hwc[3 * p] = planar[p];
                hwc[(3 * p) + 1] = planar[1024 + p];
                hwc[(3 * p) + 2] = planar[2048 + p];
            }

            pre.Process(ImageSource.Raw(hwc, 32, 32), served.AsSpan(i * pre.TensorLength, pre.TensorLength));
        }

        Assert.Equal(served, ours);
    }

    [Fact]
    public void Train_WithJpegAugmentation_DecodesAJpegOfEachChosenImage_AndOffDrawsNothing()
    {
        var data = TestData.Slice();
        var recipe = new InputRecipe(32, 32, 32, 32, Recipe32.Mean, Recipe32.Std);
        int[] indices = [0, 1, 2, 3];
        using var plain = BatchBuilder.Train(data, indices, recipe, new Random(5)).Images;
        using var off = BatchBuilder.Train(data, indices, recipe, new Random(5), new JpegAugmentation(0)).Images;
        Assert.Equal(plain.data<float>().ToArray(), off.data<float>().ToArray());

        // Every image through JPEG at quality 40..40: each equals its own round trip through the encoder and decoder.
        using var jpeg = BatchBuilder.Train(data, indices, recipe, new Random(5), new JpegAugmentation(1, 40, 40)).Images;
        var pixels = jpeg.data<float>().ToArray();
        Assert.NotEqual(plain.data<float>().ToArray(), pixels);
        var decoded = new byte[data.ImageBytes];
        ImageDecoder.DecodePlanar(ImageEncoder.Jpeg(data.ImageHwc(0), 32, 32, 40), 32, 32, 32 * 32, decoded);
        var flipped = pixels[0] != (decoded[0] * recipe.Multiplier(0)) + recipe.Offset(0);
        var expected = (decoded[flipped ? 31 : 0] * recipe.Multiplier(0)) + recipe.Offset(0);
        Assert.Equal(expected, pixels[0], 5);
        Assert.Throws<ArgumentException>(() => new JpegAugmentation(1.5).Validate());
    }

    [Fact]
    public void Train_WithoutScaleOrFlip_IsACropOfTheNormalisedImage()
    {
        var data = TestData.Slice();
        var plain = BatchBuilder.TestPixels(data, 3, 1, Recipe32);
        var crop = new float[3 * 24 * 24];
        var recipe = Recipe32 with { CropSize = 24 };
        BatchBuilder.Sample(data.Image(3), data.Side, 32, 32, 5, 7, flip: false, 24, recipe, crop);
        Assert.Equal(plain[(1 * 1024) + (5 * 32) + 7 + 3], crop[(1 * 576) + 3]);
        var flipped = new float[3 * 24 * 24];
        BatchBuilder.Sample(data.Image(3), data.Side, 32, 32, 5, 7, flip: true, 24, recipe, flipped);
        Assert.Equal(crop[(2 * 576) + (10 * 24) + 0], flipped[(2 * 576) + (10 * 24) + 23]);
    }

    [Fact]
    public void Train_IsDeterministicForASeedAndInRange()
    {
        var data = TestData.Slice();
        int[] indices = [0, 5, 9, 100];
        var (a, la) = BatchBuilder.Train(data, indices, Recipe32, new Random(3));
        var (b, _) = BatchBuilder.Train(data, indices, Recipe32, new Random(3));
        using (a)
        using (b)
        using (la)
        {
            Assert.Equal([4L, 3, 32, 32], a.shape);
            Assert.True(a.eq(b).all().item<bool>());
            Assert.Equal([3L, 6, 1, 4], la.data<long>().ToArray());
            Assert.True(a.abs().max().item<float>() < 3f);
        }
    }
}
