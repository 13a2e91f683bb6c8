using DfbNet.Runtime.Preprocessing;
using DfbNet.Runtime.Tests;

namespace DfbNet.Testing;

/// <summary>
/// Image folders made of the committed CIFAR-10 slice, as a user's would be: one subfolder per class, alternately
/// PNG files of the 32x32 originals and JPEG files of them enlarged to 48x48, so readers meet both formats and sizes.
/// </summary>
internal static class ImageFolderWriter
{
    /// <summary>Three CIFAR-10 classes (label, folder name), named so that ordinal order differs from label order.</summary>
    public static (int Label, string Name)[] ThreeClasses { get; } = [(8, "ship"), (0, "airplane"), (3, "cat")];

    /// <summary>Writes images [skip, skip + count) of each class (in slice order) into <paramref name="folder"/>/NAME/.</summary>
    /// <returns>The files written, per class name.</returns>
    public static Dictionary<string, List<string>> Write(string folder, IReadOnlyList<(int Label, string Name)> classes, int count, int skip = 0)
    {
        var written = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (label, name) in classes)
        {
            var dir = Path.Combine(folder, name);
            Directory.CreateDirectory(dir);
            var files = new List<string>();
            foreach (var index in Enumerable.Range(0, CifarSlice.Count).Where(i => CifarSlice.Label(i) == label).Skip(skip).Take(count))
            {
                var hwc = CifarSlice.Hwc(index);
                var path = Path.Combine(dir, files.Count % 2 == 0 ? $"img{index:D3}.png" : $"img{index:D3}.jpg");
                File.WriteAllBytes(path, files.Count % 2 == 0 ? ImageEncoder.Png(hwc, 32, 32) : ImageEncoder.Jpeg(Enlarged(hwc, 32, 48), 48, 48, 95));
                files.Add(path);
            }

            written[name] = files;
        }

        return written;
    }

    /// <summary>Nearest-neighbour enlargement of an HWC RGB image from <paramref name="from"/> to <paramref name="to"/> pixels a side.</summary>
    private static byte[] Enlarged(byte[] hwc, int from, int to)
    {
        var result = new byte[to * to * 3];
        for (var y = 0; y < to; y++)
        {
            for (var x = 0; x < to; x++)
            {
                hwc.AsSpan((((y * from / to) * from) + (x * from / to)) * 3, 3).CopyTo(result.AsSpan(((y * to) + x) * 3));
            }
        }

        return result;
    }
}
