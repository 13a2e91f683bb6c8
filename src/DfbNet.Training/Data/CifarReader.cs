namespace DfbNet.Training.Data;

/// <summary>
/// Reads the CIFAR binary format. CIFAR-10 records are 1 label byte + 3072 pixel bytes; CIFAR-100 records are
/// 1 coarse + 1 fine label byte + 3072 pixel bytes. Files are checked to be whole records with labels in range, and
/// every error names the file, so a truncated download fails loudly rather than training on garbage.
/// </summary>
public static class CifarReader
{
    public static IReadOnlyList<string> Cifar10Classes { get; } =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>Reads one CIFAR-10 batch file.</summary>
    /// <exception cref="InvalidDataException">The file is not a whole number of records or holds a label outside 0..9.</exception>
    public static CifarDataset ReadCifar10(string path, IReadOnlyList<string>? classes = null) =>
        Read(path, labelBytes: 1, labelOffset: 0, classCount: 10, classes ?? Cifar10Classes);

    /// <summary>Reads one CIFAR-100 file with its fine (0..99) or coarse (0..19) labels.</summary>
    public static CifarDataset ReadCifar100(string path, bool fine = true, IReadOnlyList<string>? classes = null) =>
        Read(path, labelBytes: 2, labelOffset: fine ? 1 : 0, classCount: fine ? 100 : 20,
            classes ?? [.. Enumerable.Range(0, fine ? 100 : 20).Select(i => $"class{i}")]);

    /// <summary>The 50,000 CIFAR-10 training images (data_batch_1..5.bin) of <paramref name="directory"/> (or its cifar-10 subfolder).</summary>
    public static CifarDataset LoadCifar10Train(string directory)
    {
        var dir = Cifar10Directory(directory);
        IReadOnlyList<string> classes = (IReadOnlyList<string>?)ReadClassNames(Path.Combine(dir, "batches.meta.txt")) ?? Cifar10Classes;
        var parts = Enumerable.Range(1, 5).Select(i => ReadCifar10(Path.Combine(dir, $"data_batch_{i}.bin"), classes)).ToList();
        return Concat(parts, classes, $"{dir}/data_batch_1..5.bin");
    }

    /// <summary>The 10,000 CIFAR-10 test images (test_batch.bin).</summary>
    public static CifarDataset LoadCifar10Test(string directory)
    {
        var dir = Cifar10Directory(directory);
        IReadOnlyList<string> classes = (IReadOnlyList<string>?)ReadClassNames(Path.Combine(dir, "batches.meta.txt")) ?? Cifar10Classes;
        return ReadCifar10(Path.Combine(dir, "test_batch.bin"), classes);
    }

    private static string Cifar10Directory(string directory)
    {
        var nested = Path.Combine(directory, "cifar-10");
        var dir = Directory.Exists(nested) ? nested : directory;
        if (!Directory.Exists(dir))
        {
            throw new DirectoryNotFoundException($"CIFAR-10 folder {directory} does not exist (unpack it with /work/shared/data/unpack.sh DIR).");
        }

        return dir;
    }

    private static List<string>? ReadClassNames(string path) =>
        File.Exists(path)
            ? File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToList()
            : null;

    private static CifarDataset Concat(List<CifarDataset> parts, IReadOnlyList<string> classes, string source)
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

        return new CifarDataset(pixels, labels, classes, source);
    }

    private static CifarDataset Read(string path, int labelBytes, int labelOffset, int classCount, IReadOnlyList<string> classes)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"CIFAR file {path} does not exist.", path);
        }

        if (classes.Count != classCount)
        {
            throw new InvalidDataException($"{classes.Count} class names for {path}, which has {classCount} classes.");
        }

        var bytes = File.ReadAllBytes(path);
        var record = labelBytes + CifarDataset.ImageBytes;
        if (bytes.Length == 0 || bytes.Length % record != 0)
        {
            throw new InvalidDataException(
                $"CIFAR file {path} has {bytes.Length} bytes, not a whole number of {record}-byte records (truncated or not a CIFAR-{(labelBytes == 1 ? 10 : 100)} binary file).");
        }

        var count = bytes.Length / record;
        var pixels = new byte[count * CifarDataset.ImageBytes];
        var labels = new byte[count];
        for (var i = 0; i < count; i++)
        {
            var label = bytes[(i * record) + labelOffset];
            if (label >= classCount)
            {
                throw new InvalidDataException($"CIFAR file {path}: record {i} has label {label}; expected 0..{classCount - 1}.");
            }

            labels[i] = label;
            bytes.AsSpan((i * record) + labelBytes, CifarDataset.ImageBytes).CopyTo(pixels.AsSpan(i * CifarDataset.ImageBytes));
        }

        return new CifarDataset(pixels, labels, classes, path);
    }
}
