using DfbNet.Runtime.Preprocessing;
using DfbNet.Training.Data;

namespace DfbNet.Cli.Load;

/// <summary>One frame ready to send: its bytes (encoded, or raw HWC RGB) and the CIFAR label it is scored against.</summary>
internal sealed record LoadFrame(int Label, byte[] Bytes, int Width, int Height);

/// <summary>
/// The frames of a load run: the images of a CIFAR-10 binary batch (records of 1 label byte + 3072 bytes of 32x32 RGB
/// in R, G, B planes), encoded once up front so that encoding costs the generator nothing while it runs.
/// </summary>
internal sealed class FrameSet
{
    /// <summary>JPEG quality: high enough that the class survives, as a camera would send.</summary>
    public const int JpegQuality = 90;

    private FrameSet(FrameFormat format, IReadOnlyList<LoadFrame> frames, string source)
    {
        Format = format;
        Frames = frames;
        Source = source;
    }

    public FrameFormat Format { get; }

    public IReadOnlyList<LoadFrame> Frames { get; }

    public string Source { get; }

    public int Count => Frames.Count;

    /// <summary>Mean bytes per frame on the wire (before protocol framing).</summary>
    public double MeanBytes => Frames.Average(f => f.Bytes.Length);

    /// <summary>Reads and encodes <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a whole number of CIFAR-10 records, or a label is outside 0..9; the message names the file.</exception>
    public static FrameSet Load(string path, FrameFormat format)
    {
        var data = CifarReader.ReadCifar10(path);
        var frames = new LoadFrame[data.Count];
        for (var i = 0; i < data.Count; i++)
        {
            var hwc = data.ImageHwc(i);
            var bytes = format switch
            {
                FrameFormat.Png => ImageEncoder.Png(hwc, CifarDataset.Side, CifarDataset.Side),
                FrameFormat.Jpeg => ImageEncoder.Jpeg(hwc, CifarDataset.Side, CifarDataset.Side, JpegQuality),
                _ => hwc,
            };
            frames[i] = new LoadFrame(data.Labels[i], bytes, CifarDataset.Side, CifarDataset.Side);
        }

        return new FrameSet(format, frames, path);
    }
}
