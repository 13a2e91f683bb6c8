using DfbNet.Core.Manifest;
using DfbNet.Training.Training;

namespace DfbNet.Training.Data;

/// <summary>
/// An image folder (<see cref="ImageFolder"/>): a part with a subfolder of its own (val/, test/) is read as it is; the
/// others are split off the training images by <see cref="StratifiedSplit"/>. Each part is kept in a seeded random
/// order, so the first N images of it (<c>--train-limit</c>, <c>eval --limit</c>, export's parity images) are a
/// sample of every class. Images are decoded and resized to the model's input size when a part is read.
/// </summary>
internal sealed class ImageFolderDataSource(ImageFolder folder, Action<string> log)
    : TrainingDataSource(folder.Directory, folder.Classes, log)
{
    public override TrainingData Load(int inputSize, DataSplit split, int? trainLimit = null, CancellationToken cancellationToken = default)
    {
        var (train, validation, test) = Parts(split);
        Log($"Image folder {Directory}: {Classes.Count} classes ({ImageFolder.Describe(Classes)}); {train.Files.Count:N0} training, {validation.Files.Count:N0} validation, {test.Files.Count:N0} test images");
        if (trainLimit is { } limit && limit < train.Files.Count)
        {
            train = new ImageFolderPart($"{train.Folder}, first {limit}", [.. train.Files.Take(limit)]);
        }

        return new TrainingData(Read(train, inputSize, cancellationToken), Read(validation, inputSize, cancellationToken), Read(test, inputSize, cancellationToken));
    }

    public override ImageDataset LoadValidation(int inputSize, DataSplit split, CancellationToken cancellationToken = default) =>
        Read(Parts(split).Validation, inputSize, cancellationToken);

    public override ImageDataset LoadTest(int inputSize, DataSplit split, int? limit = null, CancellationToken cancellationToken = default)
    {
        var test = Parts(split).Test;
        if (limit is { } n && n < test.Files.Count)
        {
            test = new ImageFolderPart($"{test.Folder}, first {n}", [.. test.Files.Take(n)]);
        }

        return Read(test, inputSize, cancellationToken);
    }

    /// <summary>Training, validation and test files; <see cref="ImageFolderPart.Folder"/> says where each came from.</summary>
    private (ImageFolderPart Train, ImageFolderPart Validation, ImageFolderPart Test) Parts(DataSplit split)
    {
        // A part without a folder of its own is a share of train/; the shares must leave images to train on.
        var validationShare = folder.Validation is null ? split.ValidationShare : 0;
        var testShare = folder.Test is null ? split.TestShare : 0;
        static bool Valid(double share, bool ownFolder) => ownFolder || share is > 0 and < 1;
        if (!Valid(validationShare, folder.Validation is not null) || !Valid(testShare, folder.Test is not null) || validationShare + testShare >= 1)
        {
            throw new DatasetException($"{Directory} is split by shares of every class: --validation-share {split.ValidationShare} and --test-share {split.TestShare} must each lie between 0 and 1 (exclusive) and add up to less than 1.");
        }

        var (train, validation, test) = StratifiedSplit.Split(folder.Train.Files, Classes, validationShare, testShare, split.Seed, folder.Train.Folder);
        var heldOut = new[] { (Share: validationShare, Part: "validation"), (Share: testShare, Part: "test") }.Where(h => h.Share > 0).Select(h => $"{StratifiedSplit.Percent(h.Share)} {h.Part}");
        var held = $"seed {split.Seed}, {string.Join(" and ", heldOut)} of every class held out";
        ImageFolderPart Carved(List<LabelledFile> files, string part, double share) =>
            new($"{folder.Train.Folder}: {part} split, {StratifiedSplit.Percent(share)} of every class (seed {split.Seed})", StratifiedSplit.Shuffled(files, split.Seed));
        ImageFolderPart Own(ImageFolderPart part) => part with { Files = StratifiedSplit.Shuffled(part.Files, split.Seed) };
        return (
            new ImageFolderPart(validationShare + testShare > 0 ? $"{folder.Train.Folder} ({held})" : folder.Train.Folder, StratifiedSplit.Shuffled(train, split.Seed)),
            folder.Validation is { } v ? Own(v) : Carved(validation, "validation", validationShare),
            folder.Test is { } t ? Own(t) : Carved(test, "test", testShare));
    }

    private ImageDataset Read(ImageFolderPart part, int inputSize, CancellationToken cancellationToken) =>
        ImageFolderReader.Read(part.Files, inputSize, Classes, folder.Name, part.Folder, Log, cancellationToken);
}
