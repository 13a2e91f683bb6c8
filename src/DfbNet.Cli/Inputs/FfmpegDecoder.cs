using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;

namespace DfbNet.Cli.Inputs;

/// <summary>Decodes a video file or a live source (stdin, a camera device, a stream URL) with the system's ffmpeg into raw
/// RGB frames of a fixed size, read from a pipe.</summary>
internal static class FfmpegDecoder
{
    /// <summary>Why <see cref="Locate"/> found nothing, for the user: a DFBNET_FFMPEG that is not there, or no ffmpeg on the PATH.</summary>
    public static string Missing(string what) => Environment.GetEnvironmentVariable("DFBNET_FFMPEG") is { Length: > 0 } configured
        ? $"{what} needs ffmpeg, and DFBNET_FFMPEG '{configured}' does not exist."
        : $"{what} needs ffmpeg, which is not on the PATH. Install it (Debian: apt-get install ffmpeg) or point DFBNET_FFMPEG at it.";

    /// <summary>Where ffmpeg is: $DFBNET_FFMPEG, else the first <c>ffmpeg</c> on the PATH; null when there is none.</summary>
    public static string? Locate()
    {
        if (Environment.GetEnvironmentVariable("DFBNET_FFMPEG") is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? configured : null;
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, "ffmpeg");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>The frames of <paramref name="video"/> scaled to <paramref name="width"/> x <paramref name="height"/>, as
    /// HWC RGB buffers, in order. ffmpeg is killed when the enumeration stops early.</summary>
    /// <exception cref="InvalidDataException">ffmpeg failed (the message holds its error output).</exception>
    public static async IAsyncEnumerable<byte[]> DecodeAsync(string ffmpeg, string video, int width, int height, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(ffmpeg)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,

            // For "-" ffmpeg reads this process's own standard input (it is not redirected, so the child inherits it).
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        foreach (var arg in InputArguments(video).Concat(["-vf", $"scale={width}:{height}", "-sws_flags", "bilinear", "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"]))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidDataException($"Could not start {ffmpeg}.");
        var errors = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (errors)
                {
                    errors.AppendLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();
        var finished = false;
        try
        {
            var stdout = process.StandardOutput.BaseStream;
            var frameBytes = width * height * 3;
            while (true)
            {
                var frame = new byte[frameBytes];
                var read = await stdout.ReadAtLeastAsync(frame, frameBytes, throwOnEndOfStream: false, cancellationToken);
                if (read < frameBytes)
                {
                    break;
                }

                yield return frame;
            }

            await process.WaitForExitAsync(cancellationToken);
            finished = true;
            if (process.ExitCode != 0)
            {
                string message;
                lock (errors)
                {
                    message = errors.ToString().Trim();
                }

                throw new InvalidDataException($"ffmpeg could not decode '{video}' (exit code {process.ExitCode}): {message}");
            }
        }
        finally
        {
            if (!finished && !process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    /// <summary>ffmpeg's input: a file; stdin (<c>-</c>); a V4L2 camera; a network stream (RTSP over TCP, which passes
    /// firewalls and loses no packets). Staleness is the caller's to handle (<c>--latest</c> drops old frames): ffmpeg's
    /// low-delay flags lose whole streams whose first frames it cannot probe.</summary>
    private static string[] InputArguments(string source)
    {
        string[] quiet = ["-hide_banner", "-loglevel", "error"];
        if (source == "-")
        {
            return [.. quiet, "-i", "pipe:0"];
        }

        if (source.StartsWith("/dev/video", StringComparison.Ordinal))
        {
            return [.. quiet, "-nostdin", "-f", "v4l2", "-i", source];
        }

        if (MediaPaths.IsLive(source))
        {
            string[] transport = source.StartsWith("rtsp", StringComparison.OrdinalIgnoreCase) ? ["-rtsp_transport", "tcp"] : [];
            return [.. quiet, "-nostdin", .. transport, "-i", source];
        }

        return [.. quiet, "-nostdin", "-i", source];
    }
}
