using DfbNet.Core.Manifest;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Runtime.Tests;
using DfbNet.Testing;
using DfbNet.Training.Data;
using DfbNet.Training.Model;
using DfbNet.Training.Training;

namespace DfbNet.Training.Tests;

/// <summary>Image folders and CIFAR-10 through <see cref="TrainingDataSource"/>: layouts, the seeded split, and the errors.</summary>
public sealed class ImageFolderTests
{
    private static readonly string[] SortedClasses = ["airplane", "cat", "ship"];

    private static readonly Action<string> Log = _ => { };

    [Fact]
    public void FlatFolder_ClassesAreFolderNamesInOrdinalOrder_AndEveryImageLandsInExactlyOnePart()
    {
        var dir = TestData.TempFolder("flat");
        ImageFolderWriter.Write(dir, ImageFolderWriter.ThreeClasses, count: 12);
        var source = TrainingDataSource.Open(dir, Log);
        Assert.Equal(SortedClasses, source.Classes);

        var data = source.Load(24, new DataSplit { Seed = 5, ValidationShare = 0.25, TestShare = 0.25 });
        Assert.All(new[] { data.Train, data.Validation, data.Test! }, d => Assert.Equal(24, d.Side));
        Assert.All(new[] { data.Train, data.Validation, data.Test! }, d => Assert.Equal(Path.GetFileName(dir), d.Name));

        // 12 per class: 3 test, 3 validation, 6 training of each.
        Assert.Equal([6, 6, 6], Counts(data.Train));
        Assert.Equal([3, 3, 3], Counts(data.Validation));
        Assert.Equal([3, 3, 3], Counts(data.Test!));
        Assert.Equal(24 * 24 * 3 * 18, data.Train.Pixels.Length);
    }

    [Fact]
    public void Decoding_ResizesEachFileExactlyAsTheServersPreprocessor_AndReportsProgress()
    {
        var dir = TestData.TempFolder("decode");
        var files = ImageFolderWriter.Write(dir, ImageFolderWriter.ThreeClasses[..1], count: 4)["ship"];
        var lines = new List<string>();
        var data = ImageFolderReader.Read([.. files.Select(f => new LabelledFile(f, 0))], 20, ["ship"], "test", "four ships", lines.Add, default, progressInterval: TimeSpan.Zero);

        // Identity normalisation: the preprocessor's floats are the pixels / 255; the set stores the pixels.
        var spec = new InputSpec { Width = 20, Height = 20, Normalization = new NormalizationSpec { Scale = 1f / 255f, Mean = [0, 0, 0], Std = [1, 1, 1] } };
        var pre = new ImagePreprocessor(spec);
        var recipe = new InputRecipe(20, 20, 20, 20, [0, 0, 0], [1, 1, 1]);
        for (var i = 0; i < files.Count; i++)
        {
            var served = new float[pre.TensorLength];
            pre.Process(ImageSource.Encoded(File.ReadAllBytes(files[i])), served);
            Assert.Equal(served, BatchBuilder.TestPixels(data, i, 1, recipe));
        }

        // Both formats and sizes were there: 32x32 PNG and 48x48 JPEG.
        Assert.Contains(files, f => f.EndsWith(".png", StringComparison.Ordinal));
        Assert.Contains(files, f => f.EndsWith(".jpg", StringComparison.Ordinal));
        Assert.StartsWith("Decoding 4 images (four ships) to 20x20", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.Contains("of 4 images decoded", StringComparison.Ordinal));
        Assert.StartsWith("Decoded 4 images", lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void SplitFolders_AreReadAsTheyAre_AndAMissingValFolderIsCarvedOffTrain()
    {
        var dir = TestData.TempFolder("split");
        ImageFolderWriter.Write(Path.Combine(dir, "train"), ImageFolderWriter.ThreeClasses, count: 8);
        ImageFolderWriter.Write(Path.Combine(dir, "validation"), ImageFolderWriter.ThreeClasses, count: 2, skip: 8);
        ImageFolderWriter.Write(Path.Combine(dir, "test"), ImageFolderWriter.ThreeClasses, count: 3, skip: 10);
        var source = TrainingDataSource.Open(dir, Log);
        Assert.Equal(SortedClasses, source.Classes);
        var data = source.Load(16, new DataSplit());
        Assert.Equal([8, 8, 8], Counts(data.Train));
        Assert.Equal([2, 2, 2], Counts(data.Validation));
        Assert.Equal([3, 3, 3], Counts(data.Test!));
        Assert.Equal(Path.Combine(dir, "test"), data.Test!.Source);

        Directory.Delete(Path.Combine(dir, "validation"), recursive: true);
        var carved = TrainingDataSource.Open(dir, Log).Load(16, new DataSplit { ValidationShare = 0.25 });
        Assert.Equal([6, 6, 6], Counts(carved.Train));
        Assert.Equal([2, 2, 2], Counts(carved.Validation));
        Assert.Equal([3, 3, 3], Counts(carved.Test!));
    }

    [Fact]
    public void SeededSplit_IsStratifiedDisjointAndReproducible_AndTheTestPartDependsOnSeedAndTestShareAlone()
    {
        var files = Enumerable.Range(0, 3).SelectMany(c => Enumerable.Range(0, 10 * (c + 1)).Select(i => new LabelledFile($"c{c}/{i:D2}.png", c))).ToList();
        var classes = new[] { "a", "b", "c" };
        var (train, validation, test) = StratifiedSplit.Split(files, classes, 0.2, 0.1, seed: 3, "x");

        // Every class keeps its shares (10, 20, 30 images: 1/2/3 test, 2/4/6 validation), and every file is in one part.
        Assert.Equal([1, 2, 3], PerClass(test));
        Assert.Equal([2, 4, 6], PerClass(validation));
        Assert.Equal([7, 14, 21], PerClass(train));
        Assert.Equal(files.Select(f => f.Path).Order(StringComparer.Ordinal), train.Concat(validation).Concat(test).Select(f => f.Path).Order(StringComparer.Ordinal));

        var again = StratifiedSplit.Split(files, classes, 0.2, 0.1, seed: 3, "x");
        Assert.Equal(test, again.Test);
        Assert.Equal(validation, again.Validation);
        Assert.Equal(test, StratifiedSplit.Split(files, classes, 0.3, 0.1, seed: 3, "x").Test);
        Assert.NotEqual(test, StratifiedSplit.Split(files, classes, 0.2, 0.1, seed: 4, "x").Test);

        // A share of a small class still gives that class one image.
        Assert.Equal([1, 1, 1], PerClass(StratifiedSplit.Split(files, classes, 0.01, 0.01, seed: 3, "x").Test));
    }

    [Fact]
    public void SeededSplit_OfAFolder_GivesTheSameImagesForTheSameSeed_AndTheSameTestImagesToEval()
    {
        var dir = TestData.TempFolder("seeded");
        ImageFolderWriter.Write(dir, ImageFolderWriter.ThreeClasses, count: 10);
        var split = new DataSplit { Seed = 11 };
        var first = TrainingDataSource.Open(dir, Log).Load(16, split);
        var second = TrainingDataSource.Open(dir, Log).Load(16, split);
        Assert.Equal(first.Train.Pixels, second.Train.Pixels);
        Assert.Equal(first.Validation.Pixels, second.Validation.Pixels);

        var test = TrainingDataSource.Open(dir, Log).LoadTest(16, split with { ValidationShare = 0.3 });
        Assert.Equal(first.Test!.Pixels, test.Pixels);
        Assert.Equal(first.Test.Labels, test.Labels);
        Assert.Equal(first.Validation.Pixels, TrainingDataSource.Open(dir, Log).LoadValidation(16, split).Pixels);
        Assert.NotEqual(first.Test.Pixels, TrainingDataSource.Open(dir, Log).LoadTest(16, split with { Seed = 12 }).Pixels);
    }

    [Fact]
    public void CifarFolder_KeepsTheTrainingBinariesMinusTheSeededHoldOut_AndTestBatchAsTest()
    {
        var dir = TestData.TempFolder("cifar");
        var cifar = Path.Combine(dir, "cifar-10");
        Directory.CreateDirectory(cifar);
        foreach (var name in Enumerable.Range(1, 5).Select(i => $"data_batch_{i}.bin").Append("test_batch.bin"))
        {
            File.Copy(TestData.SlicePath, Path.Combine(cifar, name));
        }

        var source = TrainingDataSource.Open(dir, Log);
        Assert.Equal(CifarReader.Cifar10Classes, source.Classes);
        var data = source.Load(64, new DataSplit { Seed = 7, ValidationCount = 300 }, trainLimit: 900);
        var (train, validation) = CifarReader.LoadCifar10Train(dir).Take(900).SplitValidation(300, 7);
        Assert.Equal(train.Pixels, data.Train.Pixels);
        Assert.Equal(validation.Labels, data.Validation.Labels);
        Assert.Equal(CifarReader.LoadCifar10Test(dir).Pixels, data.Test!.Pixels);
        Assert.Equal(32, data.Train.Side);
        Assert.Equal(CifarReader.Cifar10Name, data.Train.Name);
        Assert.Equal(CifarReader.LoadCifar10Train(dir).SplitValidation(300, 7).Validation.Pixels, source.LoadValidation(64, new DataSplit { Seed = 7, ValidationCount = 300 }).Pixels);
    }

    [Fact]
    public void CorruptImage_IsNamedInTheError()
    {
        var dir = TestData.TempFolder("corrupt");
        ImageFolderWriter.Write(dir, ImageFolderWriter.ThreeClasses, count: 5);
        var bad = Path.Combine(dir, "cat", "broken.png");
        File.WriteAllBytes(bad, [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3]);
        var ex = Assert.Throws<DatasetException>(() => TrainingDataSource.Open(dir, Log).Load(16, new DataSplit { ValidationShare = 0.2, TestShare = 0.2 }));
        Assert.Contains(bad, ex.Message, StringComparison.Ordinal);
        Assert.Contains("not a readable JPEG or PNG", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EmptyClassFolder_IsNamedInTheError()
    {
        var dir = TestData.TempFolder("empty");
        ImageFolderWriter.Write(dir, ImageFolderWriter.ThreeClasses, count: 5);
        Directory.CreateDirectory(Path.Combine(dir, "dog"));
        File.WriteAllText(Path.Combine(dir, "dog", "notes.txt"), "no images here");
        var ex = Assert.Throws<DatasetException>(() => TrainingDataSource.Open(dir, Log));
        Assert.Equal($"Class folder {Path.Combine(dir, "dog")} is empty: it holds no .jpg, .jpeg or .png files.", ex.Message);
    }

    [Fact]
    public void ClassWithTooFewImagesForTheSplit_IsNamedInTheError()
    {
        var dir = TestData.TempFolder("few");
        ImageFolderWriter.Write(dir, ImageFolderWriter.ThreeClasses[..2], count: 6);
        ImageFolderWriter.Write(dir, ImageFolderWriter.ThreeClasses[2..], count: 2);
        var ex = Assert.Throws<DatasetException>(() => TrainingDataSource.Open(dir, Log).Load(16, new DataSplit()));
        Assert.StartsWith($"Class 'cat' of {dir} has 2 images: too few for 10% test and 10% validation", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SharesThatLeaveNothingToTrainOn_AreRefused()
    {
        var dir = TestData.TempFolder("shares");
        ImageFolderWriter.Write(dir, ImageFolderWriter.ThreeClasses, count: 10);
        var source = TrainingDataSource.Open(dir, Log);
        var ex = Assert.Throws<DatasetException>(() => source.LoadTest(16, new DataSplit { ValidationShare = 0.6, TestShare = 0.5 }));
        Assert.Contains("--validation-share 0.6 and --test-share 0.5 must each lie between 0 and 1", ex.Message, StringComparison.Ordinal);
        Assert.Throws<DatasetException>(() => source.LoadValidation(16, new DataSplit { ValidationShare = 0 }));
    }

    [Fact]
    public void FolderOfNeitherKind_SaysWhatWasExpected()
    {
        var dir = TestData.TempFolder("neither");
        File.WriteAllText(Path.Combine(dir, "readme.txt"), "hello");
        var ex = Assert.Throws<DatasetException>(() => TrainingDataSource.Open(dir, Log));
        Assert.Equal($"{dir} is neither CIFAR-10 (data_batch_1..5.bin and test_batch.bin, in it, in cifar-10/ or in cifar-10-batches-bin/) nor an image folder (one subfolder of JPEG or PNG files per class, or train/, val/ (or validation/) and test/ each holding such class subfolders).", ex.Message);

        // Subfolders without a single image are not an image folder either.
        Directory.CreateDirectory(Path.Combine(dir, "docs"));
        File.WriteAllText(Path.Combine(dir, "docs", "a.txt"), "hello");
        Assert.Contains("holds no JPEG or PNG files in its subfolders", Assert.Throws<DatasetException>(() => TrainingDataSource.Open(dir, Log)).Message, StringComparison.Ordinal);
        Assert.Equal($"Data folder {dir}-missing does not exist.", Assert.Throws<DatasetException>(() => TrainingDataSource.Open(dir + "-missing", Log)).Message);
    }

    [Fact]
    public void SplitFoldersWithOtherClasses_AndModelsOfOtherClasses_AreRefused()
    {
        var dir = TestData.TempFolder("mismatch");
        ImageFolderWriter.Write(Path.Combine(dir, "train"), ImageFolderWriter.ThreeClasses, count: 4);
        ImageFolderWriter.Write(Path.Combine(dir, "test"), ImageFolderWriter.ThreeClasses[..2], count: 2);
        var ex = Assert.Throws<DatasetException>(() => TrainingDataSource.Open(dir, Log));
        Assert.Contains("every split needs the same class subfolders", ex.Message, StringComparison.Ordinal);

        Directory.Delete(Path.Combine(dir, "test"), recursive: true);
        var source = TrainingDataSource.Open(dir, Log);
        Assert.Contains("its outputs would not match these labels", Assert.Throws<DatasetException>(() => source.CheckClasses(CifarReader.Cifar10Classes)).Message, StringComparison.Ordinal);
        source.CheckClasses(SortedClasses);
    }

    [Fact]
    public void InputSize_ScalesTheCropAndResizeRangeOfAPreset()
    {
        var edge = TrainingRecipes.For("edge", classes: 5, inputSize: 64).Model;
        Assert.Equal((64, 56, 56, 72, 5), (edge.TestSize, edge.CropSize, edge.ScaleMin, edge.ScaleMax, edge.Classes));
        var tiny = DfbNetConfig.Tiny().WithInputSize(24);
        Assert.Equal((24, 24, 24, 30), (tiny.TestSize, tiny.CropSize, tiny.ScaleMin, tiny.ScaleMax));
        var edge32 = DfbNetConfig.Edge();
        Assert.Equal(edge32, edge32.WithInputSize(32));
    }

    private static int[] Counts(ImageDataset data) => [.. Enumerable.Range(0, data.Classes.Count).Select(c => data.Labels.Count(l => l == c))];

    private static int[] PerClass(List<LabelledFile> files) => [.. Enumerable.Range(0, 3).Select(c => files.Count(f => f.Label == c))];
}
