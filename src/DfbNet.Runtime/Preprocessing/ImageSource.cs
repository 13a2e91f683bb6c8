namespace DfbNet.Runtime.Preprocessing;

/// <summary>What an <see cref="ImageSource"/> holds.</summary>
public enum ImageSourceKind
{
    /// <summary>A JPEG or PNG file's bytes.</summary>
    Encoded = 0,

    /// <summary>Raw 8-bit HWC RGB pixels.</summary>
    Raw = 1,

    /// <summary>The model's input tensor already preprocessed: little-endian float32, CHW, normalised.</summary>
    Tensor = 2,
}

/// <summary>A frame's pixels as they arrived: encoded JPEG/PNG bytes, a raw HWC RGB buffer, or a ready input tensor.</summary>
public readonly record struct ImageSource
{
    private ImageSource(ImageSourceKind kind, ReadOnlyMemory<byte> data, int height, int width, int channels)
    {
        Kind = kind;
        Data = data;
        Height = height;
        Width = width;
        Channels = channels;
    }

    public ImageSourceKind Kind { get; }

    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>Rows (raw and tensor sources).</summary>
    public int Height { get; }

    /// <summary>Columns (raw and tensor sources).</summary>
    public int Width { get; }

    /// <summary>Channels (raw and tensor sources).</summary>
    public int Channels { get; }

    public bool IsRaw => Kind == ImageSourceKind.Raw;

    /// <summary>A JPEG or PNG file's bytes.</summary>
    public static ImageSource Encoded(ReadOnlyMemory<byte> bytes) => new(ImageSourceKind.Encoded, bytes, 0, 0, 0);

    /// <summary>Raw 8-bit pixels, height x width x channels, RGB.</summary>
    public static ImageSource Raw(ReadOnlyMemory<byte> pixels, int height, int width, int channels = 3) => new(ImageSourceKind.Raw, pixels, height, width, channels);

    /// <summary>A preprocessed input tensor [channels, height, width] of little-endian float32, used as is.</summary>
    public static ImageSource Tensor(ReadOnlyMemory<byte> floats, int channels, int height, int width) => new(ImageSourceKind.Tensor, floats, height, width, channels);
}
