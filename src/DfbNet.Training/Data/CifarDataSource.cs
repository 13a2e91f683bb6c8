using DfbNet.Core.Manifest;
using DfbNet.Training.Training;

namespace DfbNet.Training.Data;

/// <summary>
/// CIFAR-10 binaries: the 50,000 images of data_batch_1..5.bin minus a seeded hold-out of
/// <see cref="DataSplit.ValidationCount"/> for training and validation, test_batch.bin for test. Images stay 32x32;
/// batches are resampled to the model's input size as they are built.
/// </summary>
internal sealed class CifarDataSource(string directory, Action<string> log)
    : TrainingDataSource(directory, CifarReader.Cifar10ClassNames(directory), log)
{
    public override TrainingData Load(int inputSize, DataSplit split, int? trainLimit = null, CancellationToken cancellationToken = default)
    {
        var all = CifarReader.LoadCifar10Train(Directory);
        if (trainLimit is { } limit)
        {
            all = all.Take(limit);
        }

        var (train, validation) = SplitValidation(all, split);
        return new TrainingData(train, validation, CifarReader.LoadCifar10Test(Directory));
    }

    public override ImageDataset LoadValidation(int inputSize, DataSplit split, CancellationToken cancellationToken = default) =>
        SplitValidation(CifarReader.LoadCifar10Train(Directory), split).Validation;

    public override ImageDataset LoadTest(int inputSize, DataSplit split, int? limit = null, CancellationToken cancellationToken = default)
    {
        var test = CifarReader.LoadCifar10Test(Directory);
        return limit is { } n ? test.Take(n) : test;
    }

    private static (ImageDataset Train, ImageDataset Validation) SplitValidation(ImageDataset all, DataSplit split)
    {
        if (split.ValidationCount < 1 || split.ValidationCount >= all.Count)
        {
            throw new DatasetException($"A validation hold-out of {split.ValidationCount} images cannot come out of {all.Count} training images ({all.Source}); give --validation between 1 and {all.Count - 1}.");
        }

        return all.SplitValidation(split.ValidationCount, split.Seed);
    }
}
