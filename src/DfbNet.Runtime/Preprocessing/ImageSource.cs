namespace DfbNet.Runtime.Preprocessing;

/// <summary>A frame's pixels as they arrived: encoded JPEG/PNG bytes, or a raw HWC RGB buffer.</summary>
public readonly record struct ImageSource
{
    private ImageSource(ReadOnlyMemory<byte> data, bool isRaw, int height, int width, int channels)
    {
        Data = data;
        IsRaw = isRaw;
        Height = height;
        Width = width;
        Channels = channels;
    }

    public ReadOnlyMemory<byte> Data { get; }

    public bool IsRaw { get; }

    public int Height { get; }

    public int Width { get; }

    public int Channels { get; }

    /// <summary>A JPEG or PNG file's bytes.</summary>
    public static ImageSource Encoded(ReadOnlyMemory<byte> bytes) => new(bytes, false, 0, 0, 0);

    /// <summary>Raw 8-bit pixels, height x width x channels, RGB.</summary>
    public static ImageSource Raw(ReadOnlyMemory<byte> pixels, int height, int width, int channels = 3) => new(pixels, true, height, width, channels);
}
