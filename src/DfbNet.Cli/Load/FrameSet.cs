using DfbNet.Training.Data;

namespace DfbNet.Cli.Load;

/// <summary>One frame ready to send: its bytes (encoded, or raw HWC RGB) and the CIFAR label it is scored against.</summary>
/// <param name="IsRaw">The bytes are raw HWC RGB of <paramref name="Width"/> x <paramref name="Height"/>, not an encoded image.</param>
/// <param name="BadKind">For a bad input of a soak (<c>--bad-share</c>): what is wrong with it; its label is -1.</param>
internal sealed record LoadFrame(int Label, byte[] Bytes, int Width, int Height, bool IsRaw, string? BadKind = null);

/// <summary>
/// The frames of a load run: the images of a CIFAR-10 binary batch (records of 1 label byte + 3072 bytes of 32x32 RGB
/// in R, G, B planes), encoded once up front so that encoding costs the generator nothing while it runs.
/// </summary>
internal sealed class FrameSet
{
    /// <summary>JPEG quality: high enough that the class survives, as a camera would send.</summary>
    public const int JpegQuality = 90;

    private FrameSet(FrameFormat format, IReadOnlyList<LoadFrame> frames, string source, int goodCount)
    {
        Format = format;
        Frames = frames;
        Source = source;
        GoodCount = goodCount;
    }

    public FrameFormat Format { get; }

    public IReadOnlyList<LoadFrame> Frames { get; }

    public string Source { get; }

    /// <summary>The dataset's frames: <see cref="Frames"/> up to here; the bad inputs of a soak follow them.</summary>
    public int GoodCount { get; }

    public int Count => GoodCount;

    /// <summary>The bad inputs after the good frames (none unless <see cref="WithBadInputs"/>).</summary>
    public int BadCount => Frames.Count - GoodCount;

    /// <summary>Mean bytes per frame on the wire (before protocol framing), of the dataset's frames.</summary>
    public double MeanBytes => Frames.Take(GoodCount).Average(f => f.Bytes.Length);

    /// <summary>
    /// The frames plus one bad input of each kind a soak mixes in: a JPEG cut short, bytes that are no image, an empty
    /// image, a raw frame whose buffer does not match its shape, and a PNG at the server's pixel limit (a few KB that
    /// decode to 64 MB, which the server's decode memory budget admits a few at a time).
    /// </summary>
    public FrameSet WithBadInputs(int maxImageSide = 4096)
    {
        var gray = new byte[32 * 32 * 3];
        Array.Fill(gray, (byte)128);
        var jpeg = Runtime.Preprocessing.ImageEncoder.Jpeg(gray, 32, 32, JpegQuality);
        var noise = new byte[64];
        new Random(17).NextBytes(noise);
        LoadFrame[] bad =
        [
            new(-1, jpeg[..(jpeg.Length * 3 / 5)], 0, 0, false, "corrupt-jpeg"),
            new(-1, noise, 0, 0, false, "not-an-image"),
            new(-1, [], 0, 0, false, "empty-image"),
            new(-1, new byte[1000], 32, 32, true, "wrong-raw-size"),
            new(-1, Runtime.Preprocessing.ImageEncoder.Png(new byte[64 * 64 * 3], 64, 64, scale: maxImageSide / 64), maxImageSide, maxImageSide, false, "pixel-limit-png"),
        ];
        return new FrameSet(Format, [.. Frames.Take(GoodCount), .. bad], Source, GoodCount);
    }

    /// <summary>Reads and encodes <paramref name="path"/>.</summary>
    /// <exception cref="DatasetException">The file is missing, not a whole number of CIFAR-10 records, or a label is outside 0..9; the message names the file.</exception>
    public static FrameSet Load(string path, FrameFormat format)
    {
        var data = CifarReader.ReadCifar10(path);
        var frames = new LoadFrame[data.Count];
        var encoding = new Evaluation.FrameEncoding(format, JpegQuality);
        for (var i = 0; i < data.Count; i++)
        {
            frames[i] = new LoadFrame(data.Labels[i], encoding.Encode(data.ImageHwc(i), data.Side), data.Side, data.Side, format == FrameFormat.Raw);
        }

        return new FrameSet(format, frames, path, frames.Length);
    }
}
