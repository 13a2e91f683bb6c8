using DfbNet.Training.Data;
using DfbNet.Training.Native;

namespace DfbNet.Training.Tests;

/// <summary>The committed 200-image CIFAR-10 slice and scratch folders.</summary>
internal static class TestData
{
    public static string SlicePath => Path.Combine(AppContext.BaseDirectory, "data", "cifar10-test-200.bin");

    public static ImageDataset Slice()
    {
        TorchNative.EnsureLoaded();
        return CifarReader.ReadCifar10(SlicePath);
    }

    public static string TempFolder(string name)
    {
        var path = Path.Combine(Path.GetTempPath(), "dfbnet-training-tests", $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }
}
