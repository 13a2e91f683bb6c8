using System.Globalization;

namespace DfbNet.Training.Data;

/// <summary>
/// A seeded split of labelled files that keeps every class's share in every part. Each class's files (in ordinal path
/// order) are shuffled by a generator seeded from the seed and the class index; the first ones go to test, the next to
/// validation, the rest to training. A part of nonzero share gets at least one image of every class. The test part
/// depends on the seed and the test share alone, and each class's on its own files alone, so eval finds the test
/// images again from the manifest, and adding a class does not reshuffle the others.
/// </summary>
internal static class StratifiedSplit
{
    /// <param name="files">Labelled files, as <see cref="ImageFolder"/> lists them.</param>
    /// <param name="classes">Class names, for messages.</param>
    /// <param name="validationShare">Share of every class for validation; 0 for none.</param>
    /// <param name="testShare">Share of every class for test; 0 for none.</param>
    /// <param name="seed">The split's seed.</param>
    /// <param name="folder">Where the files are, for messages.</param>
    /// <exception cref="DatasetException">A class has too few images to give every part one and keep one for training.</exception>
    public static (List<LabelledFile> Train, List<LabelledFile> Validation, List<LabelledFile> Test) Split(
        IReadOnlyList<LabelledFile> files, IReadOnlyList<string> classes, double validationShare, double testShare, int seed, string folder)
    {
        var train = new List<LabelledFile>();
        var validation = new List<LabelledFile>();
        var test = new List<LabelledFile>();
        foreach (var group in files.GroupBy(f => f.Label).OrderBy(g => g.Key))
        {
            var members = group.ToArray();
            var n = members.Length;
            var testCount = Share(n, testShare);
            var validationCount = Share(n, validationShare);
            if (n - testCount - validationCount < 1)
            {
                throw new DatasetException(
                    $"Class '{classes[group.Key]}' of {folder} has {n} images: too few for {Percent(testShare)} test and {Percent(validationShare)} validation with one image of every class in each and one left to train on (add images, or lower --test-share and --validation-share).");
            }

            new Random(ClassSeed(seed, group.Key)).Shuffle(members);
            test.AddRange(members[..testCount]);
            validation.AddRange(members[testCount..(testCount + validationCount)]);
            train.AddRange(members[(testCount + validationCount)..]);
        }

        return (train, validation, test);
    }

    /// <summary>The files in a seeded random order, so that the first N of a part are a sample of every class.</summary>
    public static List<LabelledFile> Shuffled(IReadOnlyList<LabelledFile> files, int seed)
    {
        var order = files.ToArray();
        new Random(seed).Shuffle(order);
        return [.. order];
    }

    /// <summary>A share as people write it: 0.1 is "10%".</summary>
    internal static string Percent(double share) => (100 * share).ToString("0.##", CultureInfo.InvariantCulture) + "%";

    private static int Share(int count, double share) =>
        share <= 0 ? 0 : Math.Max(1, (int)Math.Round(count * share, MidpointRounding.AwayFromZero));

    private static int ClassSeed(int seed, int label) => unchecked((seed * 1_000_003) + label);
}
