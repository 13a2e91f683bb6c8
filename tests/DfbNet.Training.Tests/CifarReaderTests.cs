using DfbNet.Training.Data;

namespace DfbNet.Training.Tests;

public sealed class CifarReaderTests
{
    [Fact]
    public void Slice_ReadsTwoHundredImagesWithOfficialFirstLabels()
    {
        var data = CifarReader.ReadCifar10(TestData.SlicePath);
        Assert.Equal(200, data.Count);

        // The official test_batch starts cat, ship, ship, airplane, frog.
        Assert.Equal([3, 8, 8, 0, 6], data.Labels[..5]);
        Assert.Equal(200 * 3072, data.Pixels.Length);
    }

    [Fact]
    public void TruncatedFile_IsRejectedWithItsName()
    {
        var dir = TestData.TempFolder("truncated");
        var path = Path.Combine(dir, "data_batch_1.bin");
        File.WriteAllBytes(path, File.ReadAllBytes(TestData.SlicePath)[..(3073 * 3 + 100)]);
        var ex = Assert.Throws<DatasetException>(() => CifarReader.ReadCifar10(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("3073-byte records", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LabelOutOfRange_IsRejectedWithRecordIndex()
    {
        var dir = TestData.TempFolder("label");
        var path = Path.Combine(dir, "test_batch.bin");
        var bytes = File.ReadAllBytes(TestData.SlicePath)[..(3073 * 4)];
        bytes[3073 * 2] = 10;
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<DatasetException>(() => CifarReader.ReadCifar10(path));
        Assert.Contains("record 2 has label 10", ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cifar100_ReadsFineAndCoarseLabelsAndChecksRanges()
    {
        var dir = TestData.TempFolder("c100");
        var path = Path.Combine(dir, "test.bin");
        var record = new byte[3074 * 2];
        record[0] = 19;
        record[1] = 99;
        record[3074] = 4;
        record[3075] = 42;
        record[2] = 7;
        File.WriteAllBytes(path, record);
        Assert.Equal([99, 42], CifarReader.ReadCifar100(path).Labels);
        Assert.Equal([19, 4], CifarReader.ReadCifar100(path, fine: false).Labels);
        Assert.Equal(7, CifarReader.ReadCifar100(path).Pixels[0]);

        record[3075] = 100;
        File.WriteAllBytes(path, record);
        Assert.Throws<DatasetException>(() => CifarReader.ReadCifar100(path));

        // The CIFAR-10 reader refuses CIFAR-100 bytes: 2 x 3074 is not a whole number of 3073-byte records.
        Assert.Throws<DatasetException>(() => CifarReader.ReadCifar10(path));
    }

    [Fact]
    public void ValidationSplit_IsSeededDisjointAndComplete()
    {
        var data = CifarReader.ReadCifar10(TestData.SlicePath);
        var (train, validation) = data.SplitValidation(50, seed: 7);
        var (train2, validation2) = data.SplitValidation(50, seed: 7);
        Assert.Equal(150, train.Count);
        Assert.Equal(50, validation.Count);
        Assert.Equal(validation.Pixels, validation2.Pixels);
        Assert.Equal(train.Labels, train2.Labels);
        Assert.NotEqual(validation.Pixels, data.SplitValidation(50, seed: 8).Validation.Pixels);
        Assert.Equal(data.Labels.Select(l => (int)l).Sum(), train.Labels.Select(l => (int)l).Sum() + validation.Labels.Select(l => (int)l).Sum());
    }
}
