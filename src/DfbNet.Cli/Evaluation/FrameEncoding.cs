using System.Globalization;
using DfbNet.Cli.Load;
using DfbNet.Runtime.Preprocessing;

namespace DfbNet.Cli.Evaluation;

/// <summary>
/// How a test image travels as a frame: raw pixels, PNG, or JPEG at a quality, optionally upscaled first (a camera's
/// larger frame of the same scene, which the server's preprocessor resizes back to the model's input).
/// </summary>
internal sealed record FrameEncoding(FrameFormat Format, int Quality = 90, int Scale = 1)
{
    public static FrameEncoding Raw { get; } = new(FrameFormat.Raw);

    /// <summary>"raw", "png" or "jpeg:Q" (Q in 1..100), each optionally followed by "@Nx" for an upscale by N (1..8).</summary>
    public static bool TryParse(string text, out FrameEncoding encoding, out string problem)
    {
        encoding = Raw;
        problem = "";
        var parts = text.Trim().ToLowerInvariant().Split('@');
        var scale = 1;
        if (parts.Length > 2 || (parts.Length == 2 && !(parts[1].EndsWith('x') && int.TryParse(parts[1][..^1], NumberStyles.None, CultureInfo.InvariantCulture, out scale) && scale is >= 1 and <= 8)))
        {
            problem = $"'{text}': the upscale is written @Nx with N from 1 to 8 (for example jpeg:85@4x)";
            return false;
        }

        var format = parts[0];
        if (format == "raw" || format == "png")
        {
            if (format == "raw" && scale != 1)
            {
                problem = $"'{text}': raw frames are not upscaled";
                return false;
            }

            encoding = new FrameEncoding(format == "raw" ? FrameFormat.Raw : FrameFormat.Png, Scale: scale);
            return true;
        }

        if (format.StartsWith("jpeg:", StringComparison.Ordinal) && int.TryParse(format["jpeg:".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var quality) && quality is >= 1 and <= 100)
        {
            encoding = new FrameEncoding(FrameFormat.Jpeg, quality, scale);
            return true;
        }

        problem = $"'{text}' is not raw, png or jpeg:Q with Q from 1 to 100";
        return false;
    }

    /// <summary>The frame's bytes for <paramref name="hwc"/>, a square image of side <paramref name="side"/>.</summary>
    public byte[] Encode(byte[] hwc, int side) => Format switch
    {
        FrameFormat.Png => ImageEncoder.Png(hwc, side, side, Scale),
        FrameFormat.Jpeg => ImageEncoder.Jpeg(hwc, side, side, Quality, Scale),
        _ => hwc,
    };

    /// <summary>What the server receives for the frame.</summary>
    public ImageSource Source(byte[] hwc, int side) => Format == FrameFormat.Raw ? ImageSource.Raw(hwc, side, side) : ImageSource.Encoded(Encode(hwc, side));

    public override string ToString() => (Format switch
    {
        FrameFormat.Png => "png",
        FrameFormat.Jpeg => string.Create(CultureInfo.InvariantCulture, $"jpeg:{Quality}"),
        _ => "raw",
    }) + (Scale == 1 ? "" : string.Create(CultureInfo.InvariantCulture, $"@{Scale}x"));
}
