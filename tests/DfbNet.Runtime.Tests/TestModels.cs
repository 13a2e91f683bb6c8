using DfbNet.Core.Onnx;

namespace DfbNet.Runtime.Tests;

/// <summary>Tiny real model folders built with the project's ONNX builder, one per test class.</summary>
internal sealed class TestModelFolder : IDisposable
{
    public TestModelFolder(SyntheticDfbNetOptions? options = null)
    {
        Options = options ?? new SyntheticDfbNetOptions { InputSize = 32, Seed = 7 };
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dfbnet-test-" + Guid.NewGuid().ToString("N"), "tiny");
        SyntheticModelFolder.Write(Path, Options);
    }

    public SyntheticDfbNetOptions Options { get; }

    public string Path { get; }

    public void Dispose() => Directory.Delete(System.IO.Path.GetDirectoryName(Path)!, recursive: true);
}

/// <summary>The committed CIFAR-10 test slice: 200 records of 1 label byte + 3072 planar RGB bytes.</summary>
internal static class CifarSlice
{
    public const int RecordSize = 3073;

    private static readonly Lazy<byte[]> Bytes = new(() => File.ReadAllBytes(FilePath));

    public static int Count => Bytes.Value.Length / RecordSize;

    public static int Label(int index) => Bytes.Value[index * RecordSize];

    /// <summary>Image <paramref name="index"/> as 32x32 HWC RGB bytes.</summary>
    public static byte[] Hwc(int index)
    {
        var record = Bytes.Value.AsSpan(index * RecordSize + 1, 3072);
        var hwc = new byte[3072];
        for (var i = 0; i < 1024; i++)
        {
            hwc[3 * i] = record[i];
            hwc[(3 * i) + 1] = record[1024 + i];
            hwc[(3 * i) + 2] = record[2048 + i];
        }

        return hwc;
    }

    /// <summary>tests/data/cifar10-test-200.bin, found upwards from the test binaries.</summary>
    public static string FilePath => Locate();

    private static string Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "tests", "data", "cifar10-test-200.bin");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("tests/data/cifar10-test-200.bin not found above " + AppContext.BaseDirectory);
    }
}
