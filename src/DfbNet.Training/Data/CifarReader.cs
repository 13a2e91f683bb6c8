namespace DfbNet.Training.Data;

/// <summary>
/// Reads the CIFAR binary format. CIFAR-10 records are 1 label byte + 3072 pixel bytes; CIFAR-100 records are
/// 1 coarse + 1 fine label byte + 3072 pixel bytes. Files are checked to be whole records with labels in range, and
/// every error names the file, so a truncated download fails loudly rather than training on garbage.
/// </summary>
public static class CifarReader
{
    /// <summary>Width and height of every CIFAR image.</summary>
    public const int Side = 32;

    public const string Cifar10Name = "CIFAR-10";

    /// <summary>Where a folder may hold the CIFAR-10 files: in a cifar-10/ subfolder, itself, or the folder the official archive unpacks to.</summary>
    public static IReadOnlyList<string> Cifar10Folders { get; } = ["cifar-10", "", "cifar-10-batches-bin"];

    /// <summary>The CIFAR-10 test batch's file name.</summary>
    public const string TestFile = "test_batch.bin";

    public static IReadOnlyList<string> Cifar10Classes { get; } =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>Reads one CIFAR-10 batch file.</summary>
    /// <exception cref="DatasetException">The file is missing, not a whole number of records, or holds a label outside 0..9.</exception>
    public static ImageDataset ReadCifar10(string path, IReadOnlyList<string>? classes = null) =>
        Read(path, labelBytes: 1, labelOffset: 0, classCount: 10, classes ?? Cifar10Classes, Cifar10Name);

    /// <summary>Reads one CIFAR-100 file with its fine (0..99) or coarse (0..19) labels.</summary>
    public static ImageDataset ReadCifar100(string path, bool fine = true, IReadOnlyList<string>? classes = null) =>
        Read(path, labelBytes: 2, labelOffset: fine ? 1 : 0, classCount: fine ? 100 : 20,
            classes ?? [.. Enumerable.Range(0, fine ? 100 : 20).Select(i => $"class{i}")], "CIFAR-100");

    /// <summary>The 50,000 CIFAR-10 training images (data_batch_1..5.bin) of <paramref name="directory"/> (or its cifar-10 subfolder).</summary>
    public static ImageDataset LoadCifar10Train(string directory)
    {
        var dir = Cifar10Directory(directory);
        var classes = Cifar10ClassNames(directory);
        var parts = Enumerable.Range(1, 5).Select(i => ReadCifar10(Path.Combine(dir, $"data_batch_{i}.bin"), classes)).ToList();
        return Concat(parts, classes, $"{dir}/data_batch_1..5.bin");
    }

    /// <summary>The 10,000 CIFAR-10 test images (test_batch.bin).</summary>
    public static ImageDataset LoadCifar10Test(string directory)
    {
        var dir = Cifar10Directory(directory);
        return ReadCifar10(Path.Combine(dir, TestFile), Cifar10ClassNames(directory));
    }

    /// <summary>The first folder of <see cref="Cifar10Folders"/> under <paramref name="directory"/> that holds data_batch_1.bin or test_batch.bin, or null.</summary>
    public static string? FindCifar10(string directory) =>
        Cifar10Folders.Select(f => Path.Combine(directory, f))
            .FirstOrDefault(d => File.Exists(Path.Combine(d, "data_batch_1.bin")) || File.Exists(Path.Combine(d, TestFile)));

    /// <summary>The class names of batches.meta.txt beside the binaries, or the standard ten.</summary>
    public static IReadOnlyList<string> Cifar10ClassNames(string directory) =>
        (IReadOnlyList<string>?)ReadClassNames(Path.Combine(Cifar10Directory(directory), "batches.meta.txt")) ?? Cifar10Classes;

    private static string Cifar10Directory(string directory)
    {
        if (FindCifar10(directory) is { } found)
        {
            return found;
        }

        // The binaries are missing: the first error then names the file that was expected where it was expected.
        var nested = Path.Combine(directory, "cifar-10");
        var dir = Directory.Exists(nested) ? nested : directory;
        if (!Directory.Exists(dir))
        {
            throw new DatasetException($"CIFAR-10 folder {directory} does not exist (download the CIFAR-10 binary version from the CIFAR page of the University of Toronto and unpack it there).");
        }

        return dir;
    }

    private static List<string>? ReadClassNames(string path) =>
        File.Exists(path)
            ? File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToList()
            : null;

    private static ImageDataset Concat(List<ImageDataset> parts, IReadOnlyList<string> classes, string source)
    {
        var pixels = new byte[parts.Sum(p => p.Pixels.Length)];
        var labels = new byte[parts.Sum(p => p.Count)];
        int pixelOffset = 0, labelOffset = 0;
        foreach (var part in parts)
        {
            part.Pixels.CopyTo(pixels, pixelOffset);
            part.Labels.CopyTo(labels, labelOffset);
            pixelOffset += part.Pixels.Length;
            labelOffset += part.Count;
        }

        return new ImageDataset(Side, pixels, labels, classes, parts[0].Name, source);
    }

    private static ImageDataset Read(string path, int labelBytes, int labelOffset, int classCount, IReadOnlyList<string> classes, string name)
    {
        if (!File.Exists(path))
        {
            throw new DatasetException($"CIFAR file {path} does not exist.");
        }

        if (classes.Count != classCount)
        {
            throw new DatasetException($"{classes.Count} class names for {path}, which has {classCount} classes.");
        }

        var bytes = File.ReadAllBytes(path);
        const int imageBytes = 3 * Side * Side;
        var record = labelBytes + imageBytes;
        if (bytes.Length == 0 || bytes.Length % record != 0)
        {
            throw new DatasetException(
                $"CIFAR file {path} has {bytes.Length} bytes, not a whole number of {record}-byte records (truncated or not a CIFAR-{(labelBytes == 1 ? 10 : 100)} binary file).");
        }

        var count = bytes.Length / record;
        var pixels = new byte[count * imageBytes];
        var labels = new byte[count];
        for (var i = 0; i < count; i++)
        {
            var label = bytes[(i * record) + labelOffset];
            if (label >= classCount)
            {
                throw new DatasetException($"CIFAR file {path}: record {i} has label {label}; expected 0..{classCount - 1}.");
            }

            labels[i] = label;
            bytes.AsSpan((i * record) + labelBytes, imageBytes).CopyTo(pixels.AsSpan(i * imageBytes));
        }

        return new ImageDataset(Side, pixels, labels, classes, name, path);
    }
}
