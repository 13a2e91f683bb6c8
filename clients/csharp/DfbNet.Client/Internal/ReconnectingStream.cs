using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using DfbNet.Protocol.V1;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace DfbNet.Client.Internal;

/// <summary>
/// One logical stream over one or more ClassifyStream calls. A pump takes frames from the caller's source into a
/// one-slot channel; each call gets a writer that sends the options, resends the frames still in flight, then sends
/// new frames while fewer than <see cref="DfbNetClientOptions.MaxFramesInFlight"/> are unanswered. When a call breaks
/// with a transient status, the stream waits (exponential back-off), opens a new call and resends every frame that has
/// no final event yet, so that each frame ends with exactly one final event.
/// </summary>
internal sealed class ReconnectingStream
{
    private readonly Protocol.V1.DfbNet.DfbNetClient _client;
    private readonly StreamOptions _options;
    private readonly Metadata _headers;
    private readonly DateTime? _deadline;
    private readonly int _maxReconnects;
    private readonly int _window;
    private readonly Backoff _backoff;
    private readonly ILogger _logger;
    private readonly PendingFrames _pending = new();
    private volatile bool _sourceDone;

    public ReconnectingStream(Protocol.V1.DfbNet.DfbNetClient client, StreamOptions options, Metadata headers, DateTime? deadline, DfbNetClientOptions settings, Backoff backoff, ILogger logger)
    {
        _client = client;
        _options = options;
        _headers = headers;
        _deadline = deadline;
        _maxReconnects = settings.MaxStreamReconnects;
        _window = settings.MaxFramesInFlight;
        _backoff = backoff;
        _logger = logger;
    }

    /// <summary>Reconnections made so far.</summary>
    public int Reconnections { get; private set; }

    public async IAsyncEnumerable<StreamEvent> RunAsync(IAsyncEnumerable<InputFrame> frames, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var source = Channel.CreateBounded<InputFrame>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        var pump = PumpAsync(frames, source.Writer, stop.Token);
        using var slots = new SemaphoreSlim(_window, _window);
        var failures = 0;
        try
        {
            while (true)
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                using var call = _client.ClassifyStream(new CallOptions(_headers, _deadline, attempt.Token));
                var writer = WriteAsync(call.RequestStream, source.Reader, slots, attempt);

                RpcException? broken = null;
                while (true)
                {
                    var (next, error) = await ReadAsync(call.ResponseStream, attempt.Token);
                    if (error is not null)
                    {
                        broken = error;
                        break;
                    }

                    if (next is null)
                    {
                        break;
                    }

                    failures = 0;
                    if (!_pending.TryTake(next, out var frame))
                    {
                        ClientLog.UnknownFrame(_logger, next.FrameId);
                        continue;
                    }

                    if (next.Final)
                    {
                        slots.Release();
                    }

                    yield return new StreamEvent(frame!.Frame, next, Stopwatch.GetElapsedTime(frame.SentAt), frame.Resent);
                }

                await attempt.CancelAsync();
                var writeFailure = await writer;
                if (writeFailure is not null)
                {
                    // The source threw, or a frame was invalid: the stream cannot go on.
                    throw writeFailure;
                }

                cancellationToken.ThrowIfCancellationRequested();
                if (broken is null)
                {
                    if (_sourceDone && _pending.Count == 0)
                    {
                        yield break;
                    }

                    // The server ended the call before answering every frame: treat it as a break.
                    broken = new RpcException(new Status(StatusCode.Unavailable, $"The server ended the stream with {_pending.Count} frames unanswered."));
                }

                if (!_backoff.IsTransient(broken) || failures >= _maxReconnects || !_backoff.FitsDeadline(failures, _deadline))
                {
                    throw broken;
                }

                var delay = _backoff.Delay(failures);
                failures++;
                Reconnections++;
                ClientLog.Reconnecting(_logger, broken.StatusCode, failures, delay.TotalMilliseconds, _pending.Count);
                await Task.Delay(delay, cancellationToken);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await pump;
        }
    }

    private static async Task<(ExitEvent? Event, RpcException? Error)> ReadAsync(IAsyncStreamReader<ExitEvent> responses, CancellationToken token)
    {
        try
        {
            return await responses.MoveNext(token) ? (responses.Current, null) : (null, null);
        }
        catch (RpcException ex)
        {
            return (null, ex);
        }
        catch (OperationCanceledException)
        {
            return (null, new RpcException(new Status(StatusCode.Cancelled, "The stream was cancelled.")));
        }
    }

    /// <summary>Moves frames from the caller's source into <paramref name="channel"/>; the source's failure completes the channel with it.</summary>
    private static async Task PumpAsync(IAsyncEnumerable<InputFrame> frames, ChannelWriter<InputFrame> channel, CancellationToken token)
    {
        // Let the caller start reading before the source does any work.
        await Task.Yield();
        try
        {
            await foreach (var frame in frames.WithCancellation(token))
            {
                ArgumentNullException.ThrowIfNull(frame);
                await channel.WriteAsync(frame, token);
            }

            channel.TryComplete();
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            channel.TryComplete();
        }
        catch (Exception ex)
        {
            channel.TryComplete(ex);
        }
    }

    /// <summary>Sends one call's messages. Returns an error that must end the whole stream, or null: a broken call shows
    /// in the response stream, which the reader handles.</summary>
    private async Task<Exception?> WriteAsync(IClientStreamWriter<StreamRequest> requests, ChannelReader<InputFrame> source, SemaphoreSlim slots, CancellationTokenSource attempt)
    {
        // Let the reader start before this one blocks on the network or the source.
        await Task.Yield();
        var token = attempt.Token;
        try
        {
            await requests.WriteAsync(new StreamRequest { Options = _options }, token);
            foreach (var frame in _pending.TakeForResend())
            {
                await requests.WriteAsync(frame.ToRequest(), token);
            }

            while (true)
            {
                PendingFrame pending;
                try
                {
                    if (!await source.WaitToReadAsync(token))
                    {
                        break;
                    }

                    await slots.WaitAsync(token);
                    if (!source.TryRead(out var frame))
                    {
                        slots.Release();
                        continue;
                    }

                    pending = _pending.Add(frame);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    await attempt.CancelAsync();
                    return ex;
                }

                await requests.WriteAsync(pending.ToRequest(), token);
            }

            _sourceDone = true;
            await requests.CompleteAsync();
        }
        catch (Exception)
        {
            // Cancelled, or the call broke: the reader sees the call's status.
        }

        return null;
    }
}
