namespace DfbNet.Cli.Inputs;

/// <summary>Which files the CLI reads, and how a folder becomes a list of images.</summary>
internal static class MediaPaths
{
    /// <summary>Encoded images the server decodes.</summary>
    public static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg"];

    /// <summary>Videos decoded with ffmpeg.</summary>
    public static readonly string[] VideoExtensions = [".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"];

    public static bool IsImage(string path) => ImageExtensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    public static bool IsVideo(string path) => VideoExtensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>URL schemes ffmpeg reads a live source from.</summary>
    public static readonly string[] LiveSchemes = ["rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt"];

    /// <summary>A live source ffmpeg decodes: <c>-</c> (standard input), a camera device (<c>/dev/video0</c>), or an
    /// RTSP, RTMP, HTTP, UDP, TCP or SRT URL.</summary>
    public static bool IsLive(string source) =>
        source == "-"
        || source.StartsWith("/dev/video", StringComparison.Ordinal)
        || (Uri.TryCreate(source, UriKind.Absolute, out var uri) && LiveSchemes.Contains(uri.Scheme));

    /// <summary>The images of the given files and folders (folders searched recursively, in ordinal name order), or an error.</summary>
    public static IReadOnlyList<string>? ExpandImages(IEnumerable<string> paths, out string? error)
    {
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                var found = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Where(IsImage).Order(StringComparer.Ordinal).ToList();
                if (found.Count == 0)
                {
                    error = $"'{path}' holds no images ({string.Join(", ", ImageExtensions)}).";
                    return null;
                }

                files.AddRange(found);
            }
            else if (File.Exists(path))
            {
                if (!IsImage(path))
                {
                    error = $"'{path}' is not a supported image; expected {string.Join(", ", ImageExtensions)}.";
                    return null;
                }

                files.Add(path);
            }
            else
            {
                error = $"'{path}' does not exist.";
                return null;
            }
        }

        error = null;
        return files;
    }
}
