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
    /// <exception cref="DatasetException">The file is missing, not a whole number of CIFAR-10 records, or a label is outside 0..9; the message names the file.</exception>
    public static FrameSet Load(string path, FrameFormat format)
    {
        var data = CifarReader.ReadCifar10(path);
        var frames = new LoadFrame[data.Count];
        var encoding = new Evaluation.FrameEncoding(format, JpegQuality);
        for (var i = 0; i < data.Count; i++)
        {
            frames[i] = new LoadFrame(data.Labels[i], encoding.Encode(data.ImageHwc(i), data.Side), data.Side, data.Side);
        }

        return new FrameSet(format, frames, path);
    }
}
