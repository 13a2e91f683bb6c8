namespace DfbNet.Training.Data;

/// <summary>An image file and the index of its class.</summary>
internal readonly record struct LabelledFile(string Path, int Label);

/// <summary>The images of one folder of class subfolders (the whole image folder, or its train/, val/ or test/).</summary>
internal sealed record ImageFolderPart(string Folder, IReadOnlyList<LabelledFile> Files);

/// <summary>
/// The files of an image folder, listed without reading them: one subfolder per class of JPEG or PNG files (at any
/// depth below it), or train/, val/ (or validation/) and test/ subfolders each holding the same class subfolders.
/// Class names are the class folders' names in ordinal order, which is the model's label order. Hidden files and
/// folders (names starting with a dot) and files of other types are left out.
/// </summary>
/// <param name="Directory">The image folder.</param>
/// <param name="Classes">Class names in label order.</param>
/// <param name="Train">The training images: train/, or the whole folder when it has no train/.</param>
/// <param name="Validation">val/ or validation/; null where the validation images are to be split off the training images.</param>
/// <param name="Test">test/; null where the test images are to be split off the training images.</param>
internal sealed record ImageFolder(string Directory, IReadOnlyList<string> Classes, ImageFolderPart Train, ImageFolderPart? Validation, ImageFolderPart? Test)
{
    public const string Expected = "one subfolder of JPEG or PNG files per class, or train/, val/ (or validation/) and test/ each holding such class subfolders";

    private static readonly string[] Extensions = [".jpg", ".jpeg", ".png"];

    // The defaults skip hidden and system entries (on Linux, names starting with a dot) and folders that cannot be listed.
    private static readonly EnumerationOptions TopLevel = new();

    private static readonly EnumerationOptions Recursive = new() { RecurseSubdirectories = true };

    public string Name => Path.GetFileName(Path.TrimEndingDirectorySeparator(Directory));

    /// <summary>Whether the folder has a subfolder (a class or a split) at all; <see cref="Open"/> says what else is wrong.</summary>
    public static bool HasSubfolders(string directory) => Subfolders(directory).Count > 0;

    /// <exception cref="DatasetException">The folder is empty of images, a class folder is empty, or the split subfolders disagree.</exception>
    public static ImageFolder Open(string directory)
    {
        var subfolders = Subfolders(directory);
        if (!subfolders.Contains("train"))
        {
            if (subfolders.Intersect(["val", "validation", "test"], StringComparer.Ordinal).FirstOrDefault() is { } split)
            {
                throw new DatasetException($"{directory} holds {split}/ but no train/; expected {Expected}.");
            }

            var (classes, files) = ListClasses(directory, expectedClasses: null);
            return new ImageFolder(directory, classes, new ImageFolderPart(directory, files), null, null);
        }

        var unexpected = subfolders.Except(["train", "val", "validation", "test"], StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
        {
            throw new DatasetException($"{directory} holds train/ and also {string.Join(", ", unexpected.Select(u => u + "/"))}; a split image folder holds only train/, val/ (or validation/) and test/.");
        }

        if (subfolders.Contains("val") && subfolders.Contains("validation"))
        {
            throw new DatasetException($"{directory} holds both val/ and validation/; keep one.");
        }

        var trainFolder = Path.Combine(directory, "train");
        var (trainClasses, train) = ListClasses(trainFolder, expectedClasses: null);
        ImageFolderPart? Part(string? name) =>
            name is null ? null : new ImageFolderPart(Path.Combine(directory, name), ListClasses(Path.Combine(directory, name), trainClasses).Files);
        var validation = Part(subfolders.FirstOrDefault(s => s is "val" or "validation"));
        var test = Part(subfolders.FirstOrDefault(s => s is "test"));
        return new ImageFolder(directory, trainClasses, new ImageFolderPart(trainFolder, train), validation, test);
    }

    private static List<string> Subfolders(string directory) =>
        [.. new DirectoryInfo(directory).EnumerateDirectories("*", TopLevel).Select(d => d.Name).Order(StringComparer.Ordinal)];

    /// <summary>The class subfolders of <paramref name="folder"/> and their images in ordinal path order.</summary>
    private static (IReadOnlyList<string> Classes, IReadOnlyList<LabelledFile> Files) ListClasses(string folder, IReadOnlyList<string>? expectedClasses)
    {
        var classes = Subfolders(folder);
        if (classes.Count == 0)
        {
            throw new DatasetException($"{folder} has no class subfolders; expected {Expected}.");
        }

        if (expectedClasses is not null && !classes.SequenceEqual(expectedClasses, StringComparer.Ordinal))
        {
            throw new DatasetException($"{folder} holds the classes {Describe(classes)}; train/ holds {Describe(expectedClasses)}: every split needs the same class subfolders.");
        }

        if (classes.Count > ImageDataset.MaxClasses)
        {
            throw new DatasetException($"{folder} has {classes.Count} class subfolders; at most {ImageDataset.MaxClasses} classes are supported.");
        }

        var perClass = classes.Select(c => Images(Path.Combine(folder, c))).ToList();
        if (expectedClasses is null && perClass.All(f => f.Count == 0))
        {
            throw new DatasetException($"{folder} holds no JPEG or PNG files in its subfolders; expected CIFAR-10 (data_batch_1..5.bin and test_batch.bin, in it or in cifar-10/) or an image folder: {Expected}.");
        }

        var files = new List<LabelledFile>();
        for (var c = 0; c < classes.Count; c++)
        {
            if (perClass[c].Count == 0)
            {
                throw new DatasetException($"Class folder {Path.Combine(folder, classes[c])} is empty: it holds no .jpg, .jpeg or .png files.");
            }

            files.AddRange(perClass[c].Select(f => new LabelledFile(f, c)));
        }

        return (classes, files);
    }

    private static List<string> Images(string classFolder) =>
        [.. System.IO.Directory.EnumerateFiles(classFolder, "*", Recursive)
            .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)];

    /// <summary>Class names for a one-line message: the first ten, then how many more.</summary>
    internal static string Describe(IReadOnlyList<string> classes) =>
        classes.Count <= 10 ? string.Join(", ", classes) : $"{string.Join(", ", classes.Take(10))} and {classes.Count - 10} more";
}
