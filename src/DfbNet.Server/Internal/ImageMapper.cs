using DfbNet.Runtime.Preprocessing;
using Grpc.Core;
using Proto = DfbNet.Protocol.V1;

namespace DfbNet.Server.Internal;

/// <summary>Wire images to engine images; the bytes are not copied.</summary>
internal static class ImageMapper
{
    /// <summary>Returns the image, or an error message naming the field when it is missing or malformed.</summary>
    public static bool TryMap(Proto.Image? image, string field, out ImageSource source, out string? error)
    {
        source = default;
        error = null;
        switch (image?.DataCase)
        {
            case Proto.Image.DataOneofCase.Encoded:
                source = ImageSource.Encoded(image.Encoded.Memory);
                return true;
            case Proto.Image.DataOneofCase.Raw:
                var raw = image.Raw;
                if (raw.Height == 0 || raw.Width == 0 || raw.Channels == 0)
                {
                    error = $"{field}.raw needs height, width and channels (got {raw.Height}x{raw.Width}x{raw.Channels}).";
                    return false;
                }

                if (raw.Height > int.MaxValue || raw.Width > int.MaxValue || raw.Channels > 4)
                {
                    error = $"{field}.raw shape {raw.Height}x{raw.Width}x{raw.Channels} is out of range.";
                    return false;
                }

                source = ImageSource.Raw(raw.Data.Memory, (int)raw.Height, (int)raw.Width, (int)raw.Channels);
                return true;
            default:
                error = $"{field} is missing: set encoded (JPEG/PNG bytes) or raw (HWC RGB pixels).";
                return false;
        }
    }

    public static ImageSource MapOrThrow(Proto.Image? image, string field) =>
        TryMap(image, field, out var source, out var error)
            ? source
            : throw new RpcException(new Status(StatusCode.InvalidArgument, error!));
}
