using System.Diagnostics;
using System.Globalization;
using DfbNet.Runtime.Preprocessing;

namespace DfbNet.Training.Data;

/// <summary>
/// Decodes image files into an <see cref="ImageDataset"/>, in parallel: each is decoded and resized to the model's
/// input size by the server's own <see cref="ImageDecoder"/>, so that at test time the network sees exactly what the
/// server makes of the same file, and stored as planes. Progress goes to the log every few seconds.
/// </summary>
internal static class ImageFolderReader
{
    /// <summary>
    /// The largest source image accepted (width * height, 8192 x 8192): above the server's 4096 x 4096 because training
    /// photos come from cameras of any resolution, bounded because each decoding thread holds one whole RGBA image.
    /// </summary>
    public const long MaxSourcePixels = 8192L * 8192L;

    private static readonly TimeSpan DefaultProgressInterval = TimeSpan.FromSeconds(5);

    /// <param name="files">The files and their labels, in the order the set keeps them.</param>
    /// <param name="side">Width and height every image is resized to.</param>
    /// <param name="classes">The class names.</param>
    /// <param name="name">The collection's name.</param>
    /// <param name="source">What these images are, for logs and the manifest.</param>
    /// <param name="log">Progress lines.</param>
    /// <param name="cancellationToken">Stops decoding.</param>
    /// <param name="progressInterval">Time between progress lines; tests shorten it.</param>
    /// <exception cref="DatasetException">A file cannot be read or decoded (the message names it), or the images do not fit in memory.</exception>
    public static ImageDataset Read(
        IReadOnlyList<LabelledFile> files, int side, IReadOnlyList<string> classes, string name, string source, Action<string> log,
        CancellationToken cancellationToken, TimeSpan? progressInterval = null)
    {
        var imageBytes = 3 * side * side;
        if ((long)files.Count * imageBytes > Array.MaxLength)
        {
            throw new DatasetException(string.Create(CultureInfo.InvariantCulture,
                $"{source}: {files.Count:N0} images of {side}x{side} need {(double)files.Count * imageBytes / (1 << 30):F1} GiB, more than one in-memory buffer holds ({Array.MaxLength / (double)(1 << 30):F1} GiB); use fewer images or a smaller --input-size."));
        }

        var pixels = new byte[files.Count * imageBytes];
        var labels = new byte[files.Count];
        var interval = (long)((progressInterval ?? DefaultProgressInterval).TotalSeconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        var lastReport = started;
        var done = 0;
        var gate = new object();
        (int Index, string Message)? failure = null;
        log(string.Create(CultureInfo.InvariantCulture, $"Decoding {files.Count:N0} images ({source}) to {side}x{side}..."));

        Parallel.For(0, files.Count, new ParallelOptions { CancellationToken = cancellationToken }, (i, state) =>
        {
            var file = files[i];
            labels[i] = (byte)file.Label;
            try
            {
                ImageDecoder.DecodePlanar(File.ReadAllBytes(file.Path), side, side, MaxSourcePixels, pixels.AsSpan(i * imageBytes, imageBytes));
            }
            catch (Exception ex) when (ex is InvalidImageException or IOException or UnauthorizedAccessException)
            {
                lock (gate)
                {
                    // The first bad file in list order, so that the message does not depend on thread timing.
                    if (failure is null || i < failure.Value.Index)
                    {
                        failure = (i, $"Image {file.Path} could not be read: {ex.Message}");
                    }
                }

                state.Stop();
                return;
            }

            var count = Interlocked.Increment(ref done);
            if (Stopwatch.GetTimestamp() - Volatile.Read(ref lastReport) >= interval)
            {
                lock (gate)
                {
                    var now = Stopwatch.GetTimestamp();
                    if (now - lastReport >= interval)
                    {
                        lastReport = now;
                        log(string.Create(CultureInfo.InvariantCulture, $"  {count:N0} of {files.Count:N0} images decoded ({100.0 * count / files.Count:F0}%, {Stopwatch.GetElapsedTime(started).TotalSeconds:F0}s)"));
                    }
                }
            }
        });

        if (failure is { } bad)
        {
            throw new DatasetException(bad.Message);
        }

        log(string.Create(CultureInfo.InvariantCulture, $"Decoded {files.Count:N0} images in {Stopwatch.GetElapsedTime(started).TotalSeconds:F1}s"));
        return new ImageDataset(side, pixels, labels, classes, name, source);
    }
}
