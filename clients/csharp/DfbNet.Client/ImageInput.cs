using DfbNet.Protocol.V1;
using Google.Protobuf;

namespace DfbNet.Client;

/// <summary>
/// An image to classify: the bytes of a JPEG or PNG file, or raw 8-bit RGB pixels (height x width x 3, row by row).
/// The bytes are copied once when the input is made, so it can be sent any number of times.
/// </summary>
public sealed class ImageInput
{
    private readonly Image _image;

    private ImageInput(Image image, string description)
    {
        _image = image;
        Description = description;
    }

    /// <summary>What the image is, for messages: the file name, or "encoded (N bytes)", or "raw WxH RGB".</summary>
    public string Description { get; }

    /// <summary>The bytes that go over the wire.</summary>
    public int Length => _image.DataCase == Image.DataOneofCase.Raw ? _image.Raw.Data.Length : _image.Encoded.Length;

    /// <summary>An encoded image (JPEG or PNG); the server decodes it.</summary>
    /// <exception cref="ArgumentException">The bytes are empty.</exception>
    public static ImageInput FromEncoded(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            throw new ArgumentException("The image is empty.", nameof(bytes));
        }

        return new ImageInput(new Image { Encoded = ByteString.CopyFrom(bytes) }, $"encoded ({bytes.Length} bytes)");
    }

    /// <summary>Raw 8-bit RGB pixels in height x width x 3 (HWC) order.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is not positive.</exception>
    /// <exception cref="ArgumentException">The buffer is not exactly <paramref name="width"/> * <paramref name="height"/> * 3 bytes.</exception>
    public static ImageInput FromRgb(ReadOnlySpan<byte> pixels, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        var expected = (long)width * height * 3;
        if (pixels.Length != expected)
        {
            throw new ArgumentException($"A {width}x{height} RGB image has {expected} bytes; the buffer has {pixels.Length}.", nameof(pixels));
        }

        var raw = new RawImage { Data = ByteString.CopyFrom(pixels), Width = (uint)width, Height = (uint)height, Channels = 3 };
        return new ImageInput(new Image { Raw = raw }, $"raw {width}x{height} RGB");
    }

    /// <summary>Reads a JPEG or PNG file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static async Task<ImageInput> FromFileAsync(string path, CancellationToken cancellationToken = default)
    {
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken);
        if (bytes.Length == 0)
        {
            throw new ArgumentException($"'{path}' is empty.", nameof(path));
        }

        return new ImageInput(new Image { Encoded = ByteString.CopyFrom(bytes) }, Path.GetFileName(path));
    }

    /// <summary>The wire message (shared, immutable bytes).</summary>
    internal Image ToProto() => _image;

    /// <inheritdoc/>
    public override string ToString() => Description;
}
