using System.Runtime.InteropServices;
using DfbNet.Core.Manifest;
using SkiaSharp;

namespace DfbNet.Runtime.Preprocessing;

/// <summary>
/// Turns a frame into stage 1's input: decode (JPEG/PNG, with SkiaSharp) and resize to the model's input size
/// (bilinear), both by <see cref="ImageDecoder"/>, then normalise <c>(pixel * scale - mean) / std</c> per channel
/// and write NCHW floats.
/// SkiaSharp decodes untrusted bytes safely (a bad image is a null codec or a failed result, never a dead process)
/// and reports the size before any pixel is decoded, so oversized images are refused cheaply.
/// </summary>
public sealed class ImagePreprocessor
{
    private readonly int _width;
    private readonly int _height;
    private readonly float[] _multiplier = new float[3];
    private readonly float[] _offset = new float[3];
    private readonly long _maxPixels;

    /// <param name="input">The model's input spec.</param>
    /// <param name="maxSourcePixels">The largest image (width * height) accepted before decoding.</param>
    public ImagePreprocessor(InputSpec input, long maxSourcePixels = 4096L * 4096L)
    {
        ArgumentNullException.ThrowIfNull(input);
        _width = input.Width;
        _height = input.Height;
        _maxPixels = maxSourcePixels;
        var norm = input.Normalization;
        for (var c = 0; c < 3; c++)
        {
            // (p * scale - mean) / std == p * (scale / std) - mean / std: one multiply-add per value.
            _multiplier[c] = norm.Scale / norm.Std[c];
            _offset[c] = -norm.Mean[c] / norm.Std[c];
        }
    }

    /// <summary>Floats in one preprocessed image: 3 * height * width.</summary>
    public int TensorLength => 3 * _width * _height;

    public int Width => _width;

    public int Height => _height;

    /// <summary>
    /// The memory that <see cref="Process"/> will hold for <paramref name="source"/>'s bitmaps at its peak, read from the
    /// image's header (nothing is decoded): what the frame takes of the <see cref="DecodeMemoryBudget"/>. Zero for a
    /// tensor or a raw image of the model's size (no bitmap), and for a raw buffer that <see cref="Process"/> refuses.
    /// </summary>
    /// <exception cref="InvalidImageException">An encoded image that is empty, not JPEG or PNG, or too large.</exception>
    public long DecodeBytes(ImageSource source)
    {
        if (source.Kind == ImageSourceKind.Encoded)
        {
            var size = ImageDecoder.ReadSize(source.Data.Span, _maxPixels);
            return ImageDecoder.DecodedBytes(size.Width, size.Height, _width, _height);
        }

        // A raw image is widened to a bitmap only to be resized (ProcessRaw): one of the model's size has none.
        var resized = source.Kind == ImageSourceKind.Raw && source.Channels == 3 && source.Height >= 1 && source.Width >= 1
            && (long)source.Height * source.Width <= _maxPixels && (source.Width != _width || source.Height != _height);
        return resized ? ImageDecoder.DecodedBytes(source.Width, source.Height, _width, _height) : 0;
    }

    /// <summary>Writes the preprocessed image into <paramref name="destination"/> (CHW, <see cref="TensorLength"/> floats).</summary>
    /// <exception cref="InvalidImageException">The image is corrupt, unsupported, too large, or a raw buffer of the wrong size.</exception>
    public void Process(ImageSource source, Span<float> destination)
    {
        if (destination.Length < TensorLength)
        {
            throw new ArgumentException($"Destination holds {destination.Length} floats; {TensorLength} are needed.", nameof(destination));
        }

        switch (source.Kind)
        {
            case ImageSourceKind.Raw:
                ProcessRaw(source, destination);
                break;
            case ImageSourceKind.Tensor:
                CopyTensor(source, destination);
                break;
            default:
                ProcessEncoded(source.Data.Span, destination);
                break;
        }
    }

    private void CopyTensor(ImageSource source, Span<float> destination)
    {
        if (source.Channels != 3 || source.Height != _height || source.Width != _width)
        {
            throw new InvalidImageException($"The input tensor is [{source.Channels}, {source.Height}, {source.Width}]; the model takes [3, {_height}, {_width}].");
        }

        var expected = TensorLength * sizeof(float);
        if (source.Data.Length != expected)
        {
            throw new InvalidImageException($"The input tensor holds {source.Data.Length} bytes; [3, {_height}, {_width}] float32 needs {expected}.");
        }

        // Little-endian float32 is the host's layout on every platform .NET serves here (x64, arm64).
        var values = MemoryMarshal.Cast<byte, float>(source.Data.Span);
        for (var i = 0; i < values.Length; i++)
        {
            // One NaN or infinity would make every probability NaN: refused, with where it is.
            if (!float.IsFinite(values[i]))
            {
                throw new InvalidImageException($"The input tensor's element {i} is {values[i]}; every element must be a finite number.");
            }
        }

        values.CopyTo(destination);
    }

    private void ProcessRaw(ImageSource source, Span<float> destination)
    {
        if (source.Channels != 3)
        {
            throw new InvalidImageException($"Raw image has {source.Channels} channels; only 3 (RGB, HWC) is supported.");
        }

        if (source.Height < 1 || source.Width < 1)
        {
            throw new InvalidImageException($"Raw image shape {source.Height}x{source.Width}x{source.Channels} is empty.");
        }

        ImageDecoder.CheckSize(source.Width, source.Height, _maxPixels);
        var expected = (long)source.Height * source.Width * 3;
        if (source.Data.Length != expected)
        {
            throw new InvalidImageException($"Raw image holds {source.Data.Length} bytes; shape {source.Height}x{source.Width}x3 needs {expected}.");
        }

        var rgb = source.Data.Span;
        if (source.Width == _width && source.Height == _height)
        {
            WriteTensor(rgb, 3, destination);
            return;
        }

        // Different size: widen to RGBA and let Skia resize exactly as it does decoded images.
        using var bitmap = ImageDecoder.FromRgb(rgb, source.Width, source.Height);

        using var resized = ImageDecoder.Resize(bitmap, _width, _height);
        WriteTensor(resized.GetPixelSpan(), 4, destination);
    }

    private void ProcessEncoded(ReadOnlySpan<byte> bytes, Span<float> destination)
    {
        using var bitmap = ImageDecoder.DecodeResized(bytes, _width, _height, _maxPixels);
        WriteTensor(bitmap.GetPixelSpan(), 4, destination);
    }

    private void WriteTensor(ReadOnlySpan<byte> pixels, int stride, Span<float> destination)
    {
        var plane = _width * _height;
        var r = destination[..plane];
        var g = destination.Slice(plane, plane);
        var b = destination.Slice(2 * plane, plane);
        float mr = _multiplier[0], mg = _multiplier[1], mb = _multiplier[2];
        float or = _offset[0], og = _offset[1], ob = _offset[2];
        for (int i = 0, p = 0; i < plane; i++, p += stride)
        {
            r[i] = (pixels[p] * mr) + or;
            g[i] = (pixels[p + 1] * mg) + og;
            b[i] = (pixels[p + 2] * mb) + ob;
        }
    }
}
