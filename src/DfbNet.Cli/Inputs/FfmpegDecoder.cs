using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;

namespace DfbNet.Cli.Inputs;

/// <summary>Decodes a video file with the system's ffmpeg into raw RGB frames of a fixed size, read from a pipe.</summary>
internal static class FfmpegDecoder
{
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
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-hide_banner", "-loglevel", "error", "-nostdin", "-i", video, "-vf", $"scale={width}:{height}", "-sws_flags", "bilinear", "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1" })
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
}
