using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using DfbNet.Cli.Inputs;
using DfbNet.Cli.Streaming;
using DfbNet.Client;
using Grpc.Core;

namespace DfbNet.Cli.Commands;

/// <summary>
/// <c>dfbnet stream SOURCE</c>: streams a folder of images, a video file, or a live source (stdin, a camera device, an
/// RTSP/HTTP/UDP URL; all decoded by ffmpeg) to a server; prints every exit event as it arrives and a summary at the end,
/// also on Ctrl+C (see <see cref="StreamStatistics"/> for what is counted).
/// </summary>
/// <remarks>Exit codes: 0 the stream completed; 1 the server or the decoder failed; 2 bad arguments (missing path,
/// unsupported file, no ffmpeg for a video).</remarks>
internal static class StreamCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("SOURCE") { Description = "A folder of images (.png, .jpg, .jpeg; in name order), one image, a video file, or a live source: - (standard input), a camera device (/dev/video0), or an rtsp://, http(s)://, udp://, tcp://, srt:// or rtmp:// URL (video and live sources are decoded with ffmpeg)." };
        var fps = new Option<double>("--fps") { Description = "Send frames at this rate, dropping a frame when --max-in-flight frames are unanswered at its time; 0 (default) sends as fast as answers come, dropping none.", DefaultValueFactory = _ => 0 };
        var maxInFlight = new Option<int>("--max-in-flight") { Description = "Frames sent and not yet answered at most.", DefaultValueFactory = _ => 2 };
        var quiet = new Option<bool>("--quiet") { Description = "Print only the summary, not every event." };
        var latest = new Option<bool>("--latest") { Description = "Live cameras: never wait for answers; a frame read while --max-in-flight frames are unanswered is dropped (counted), and the server keeps only the newest waiting frame (queue policy latest)." };
        var server = new ServerCallOptions();
        var command = new Command("stream", "Stream frames to a DfbNet server; print each exit event live and a summary (exit ratios, latency percentiles, drops).")
        {
            path, fps, maxInFlight, quiet, latest,
        };
        server.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = server.Resolve(parse, out var error);
            var input = parse.GetValue(path)!;
            var rate = parse.GetValue(fps);
            var window = parse.GetValue(maxInFlight);
            error ??= rate < 0 || !double.IsFinite(rate) ? $"--fps {rate} is not a non-negative rate." : null;
            error ??= window < 1 ? $"--max-in-flight {window} must be at least 1." : null;
            string? ffmpeg = null;
            IReadOnlyList<string>? images = null;
            if (error is null)
            {
                if ((File.Exists(input) && MediaPaths.IsVideo(input)) || MediaPaths.IsLive(input))
                {
                    ffmpeg = FfmpegDecoder.Locate();
                    error = ffmpeg is null ? FfmpegDecoder.Missing($"'{input}' is {(MediaPaths.IsLive(input) ? "a live source, and decoding it" : "a video, and decoding it")}") : null;
                }
                else if (File.Exists(input) && !MediaPaths.IsImage(input))
                {
                    error = $"'{input}' is not a supported file; expected a folder, an image ({string.Join(", ", MediaPaths.ImageExtensions)}) or a video ({string.Join(", ", MediaPaths.VideoExtensions)}).";
                }
                else
                {
                    images = MediaPaths.ExpandImages([input], out error);
                }
            }

            if (options is null || error is not null)
            {
                await Console.Error.WriteLineAsync($"dfbnet stream: {error}");
                return 2;
            }

            options.MaxFramesInFlight = window;
            if (parse.GetValue(latest))
            {
                // The client keeps pulling frames one past the window, so that the pacer reads the source as it comes
                // and drops what is stale (rather than ffmpeg's pipe holding old frames while the client waits).
                options.MaxFramesInFlight = window + 1;
                options.QueuePolicy = Protocol.V1.QueuePolicy.Latest;
            }

            using var client = new DfbNetClient(options);
            StreamStatistics? statistics = null;
            try
            {
                var info = await client.GetModelInfoAsync(cancellationToken: cancellationToken);
                statistics = new StreamStatistics(info.Exits.Count);
                var frames = ffmpeg is not null
                    ? FromVideo(ffmpeg, input, info.InputWidth, info.InputHeight, cancellationToken)
                    : FromImages(images!, cancellationToken);
                var printEvents = !parse.GetValue(quiet);
                var pacer = new Pacer(rate, window, parse.GetValue(latest), statistics, printEvents);
                await foreach (var e in client.StreamAsync(pacer.PaceAsync(frames, cancellationToken), cancellationToken: cancellationToken))
                {
                    statistics.Add(e.Wire, e.RoundTrip);
                    if (e.IsFinal)
                    {
                        pacer.Answered();
                    }

                    if (printEvents)
                    {
                        Console.WriteLine(Line(e));
                    }
                }
            }
            catch (RpcException ex)
            {
                await Console.Error.WriteLineAsync($"dfbnet stream: {ServerCallOptions.Describe(ex, options.Address)}");
                return 1;
            }
            catch (InvalidDataException ex)
            {
                await Console.Error.WriteLineAsync($"dfbnet stream: {ex.Message}");
                return 1;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && statistics is not null)
            {
                // Ctrl+C: the summary of what was streamed so far.
                Console.WriteLine(statistics.Summary());
                return 130;
            }

            Console.WriteLine(statistics.Summary());
            return 0;
        });
        return command;
    }

    private static string Line(StreamEvent e)
    {
        var x = e.Wire;
        var c = CultureInfo.InvariantCulture;
        var exit = x.Exit > 0 ? $"exit {x.Exit}" : "      ";
        var what = x.Prediction is { } p ? string.Create(c, $"{p.ClassName} {p.Confidence:0.000}") : x.Error;
        var line = string.Create(c, $"{x.FrameId}  {exit}  {ClassifyCommand.KindName(x.Kind),-15}  {what}  server {ClassifyCommand.Milliseconds(x.ServerTime):0.00} ms");
        return x.Final ? string.Create(c, $"{line}  final, round trip {e.RoundTrip.TotalMilliseconds:0.00} ms") : line;
    }

    private static async IAsyncEnumerable<(string Id, Func<Task<ImageInput>> Load)> FromImages(IReadOnlyList<string> files, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return (Path.GetFileName(file), () => ImageInput.FromFileAsync(file, cancellationToken));
        }

        await Task.CompletedTask;
    }

    private static async IAsyncEnumerable<(string Id, Func<Task<ImageInput>> Load)> FromVideo(string ffmpeg, string video, int width, int height, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var index = 0;
        await foreach (var rgb in FfmpegDecoder.DecodeAsync(ffmpeg, video, width, height, cancellationToken))
        {
            var image = ImageInput.FromRgb(rgb, width, height);
            yield return ($"frame-{index++:D6}", () => Task.FromResult(image));
        }
    }

    /// <summary>Sends frames at a fixed rate, dropping those due while the window is full; or, without a rate, as the
    /// window allows (waiting), or with <paramref name="latest"/> as they come, dropping those read while it is full.</summary>
    private sealed class Pacer(double fps, int window, bool latest, StreamStatistics statistics, bool printDrops)
    {
        private int _inFlight;

        public void Answered() => Interlocked.Decrement(ref _inFlight);

        public async IAsyncEnumerable<InputFrame> PaceAsync(IAsyncEnumerable<(string Id, Func<Task<ImageInput>> Load)> source, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            var index = 0;
            var ids = new HashSet<string>(StringComparer.Ordinal);
            await foreach (var (id, load) in source.WithCancellation(cancellationToken))
            {
                statistics.Read++;
                if (fps > 0)
                {
                    var due = TimeSpan.FromSeconds(index++ / fps) - clock.Elapsed;
                    if (due > TimeSpan.Zero)
                    {
                        await Task.Delay(due, cancellationToken);
                    }
                }

                if ((fps > 0 || latest) && Volatile.Read(ref _inFlight) >= window)
                {
                    statistics.NotSent++;
                    if (printDrops)
                    {
                        Console.WriteLine($"{id}  dropped: {window} frames still in flight");
                    }

                    continue;
                }

                // Folder files may share a name across sub-folders; ids must be unique.
                var unique = ids.Add(id) ? id : $"{id}#{statistics.Read}";
                var image = await load();
                Interlocked.Increment(ref _inFlight);
                statistics.Sent++;
                yield return new InputFrame(unique, image);
            }
        }
    }
}
