using DfbNet.Core.Manifest;
using DfbNet.Training.Training;

namespace DfbNet.Training.Data;

/// <summary>
/// The images behind <c>--data</c>, the same for train, export, calibrate and eval: CIFAR-10 binaries or an image
/// folder. <see cref="Open"/> only looks, so the class names are known before any image is read (the model's class
/// count depends on them); each part is read when asked for, split as the <see cref="DataSplit"/> says, so that every
/// command given the split a run recorded finds that run's validation and test images again.
/// </summary>
public abstract class TrainingDataSource
{
    private const string CifarExpected = "data_batch_1..5.bin and test_batch.bin, in it, in cifar-10/ or in cifar-10-batches-bin/";

    private protected TrainingDataSource(string directory, IReadOnlyList<string> classes, Action<string> log)
    {
        Directory = directory;
        Classes = classes;
        Log = log;
    }

    public string Directory { get; }

    /// <summary>Class names in label order.</summary>
    public IReadOnlyList<string> Classes { get; }

    private protected Action<string> Log { get; }

    /// <summary>Finds out what <paramref name="directory"/> holds, reading no image yet.</summary>
    /// <param name="directory">The folder.</param>
    /// <param name="log">Progress lines of the reads to come.</param>
    /// <exception cref="DatasetException">The folder is missing, or is neither CIFAR-10 nor a well-formed image folder.</exception>
    public static TrainingDataSource Open(string directory, Action<string> log)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            throw new DatasetException($"Data folder {directory} does not exist.");
        }

        if (CifarReader.FindCifar10(directory) is not null)
        {
            return new CifarDataSource(directory, log);
        }

        if (ImageFolder.HasSubfolders(directory))
        {
            return new ImageFolderDataSource(ImageFolder.Open(directory), log);
        }

        throw new DatasetException($"{directory} is neither CIFAR-10 ({CifarExpected}) nor an image folder ({ImageFolder.Expected}).");
    }

    /// <summary>Training (at most <paramref name="trainLimit"/> images, for smoke runs), validation and test images.</summary>
    /// <param name="inputSize">The model's input side: an image folder's images are resized to it (CIFAR-10's stay 32x32).</param>
    /// <param name="split">How the data is split.</param>
    /// <param name="trainLimit">At most this many training images; null for all.</param>
    /// <param name="cancellationToken">Stops decoding.</param>
    /// <exception cref="DatasetException">A file is missing or unreadable, or the split cannot be made.</exception>
    public abstract TrainingData Load(int inputSize, DataSplit split, int? trainLimit = null, CancellationToken cancellationToken = default);

    /// <summary>The validation images the training run held out, for calibration.</summary>
    /// <param name="inputSize">The model's input side.</param>
    /// <param name="split">How the data was split for training.</param>
    /// <param name="cancellationToken">Stops decoding.</param>
    /// <exception cref="DatasetException">A file is missing or unreadable, or the split cannot be made.</exception>
    public abstract ImageDataset LoadValidation(int inputSize, DataSplit split, CancellationToken cancellationToken = default);

    /// <summary>The test images (the first <paramref name="limit"/> of them where given).</summary>
    /// <param name="inputSize">The model's input side.</param>
    /// <param name="split">How the data was split for training.</param>
    /// <param name="limit">At most this many test images; null for all.</param>
    /// <param name="cancellationToken">Stops decoding.</param>
    /// <exception cref="DatasetException">A file is missing or unreadable, or the split cannot be made.</exception>
    public abstract ImageDataset LoadTest(int inputSize, DataSplit split, int? limit = null, CancellationToken cancellationToken = default);

    /// <summary>Checks that the data's labels mean what a model's outputs mean.</summary>
    /// <exception cref="DatasetException">The class names differ from <paramref name="modelClasses"/>, or are in another order.</exception>
    public void CheckClasses(IReadOnlyList<string> modelClasses)
    {
        if (!Classes.SequenceEqual(modelClasses, StringComparer.Ordinal))
        {
            throw new DatasetException($"{Directory} holds the classes {ImageFolder.Describe(Classes)}; the model's are {ImageFolder.Describe(modelClasses)}: its outputs would not match these labels.");
        }
    }
}
