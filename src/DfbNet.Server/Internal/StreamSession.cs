using System.Globalization;
using System.Threading.Channels;
using DfbNet.Core;
using DfbNet.Runtime;
using Grpc.Core;
using Proto = DfbNet.Protocol.V1;

namespace DfbNet.Server.Internal;

/// <summary>
/// One ClassifyStream call: a reader that timestamps frames as they arrive and queues them (bounded, so a client
/// that sends faster than the model runs is slowed by HTTP/2 flow control), workers that run frames through the
/// engine, and one writer that sends events the moment they exist. Cancelling the call stops all three, and the
/// stage in flight.
/// </summary>
internal sealed class StreamSession
{
    private readonly IAsyncStreamReader<Proto.StreamRequest> _requests;
    private readonly IServerStreamWriter<Proto.ExitEvent> _responses;
    private readonly ServerCallContext _context;
    private readonly ModelRegistry _models;
    private readonly DfbNetServerOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly string _streamId = Guid.NewGuid().ToString("N")[..12];
    private long _frames;

    public StreamSession(IAsyncStreamReader<Proto.StreamRequest> requests, IServerStreamWriter<Proto.ExitEvent> responses, ServerCallContext context, ModelRegistry models, DfbNetServerOptions options, TimeProvider clock, ILogger logger)
    {
        _requests = requests;
        _responses = responses;
        _context = context;
        _models = models;
        _options = options;
        _clock = clock;
        _logger = logger;
    }

    public async Task RunAsync()
    {
        var callToken = _context.CancellationToken;
        if (!await _requests.MoveNext(callToken))
        {
            return;
        }

        var first = _requests.Current;
        var settings = ResolvedOptions.Resolve(first.Options, _context.RequestHeaders, _models, _options);
        ServerLog.StreamOpened(_logger, _streamId, settings.Engine.Name, settings.Mode.ToString());

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(callToken);
        var token = cts.Token;
        var frames = Channel.CreateBounded<QueuedFrame>(new BoundedChannelOptions(_options.StreamQueueCapacity)
        {
            SingleWriter = true,
            SingleReader = _options.MaxFramesInFlightPerStream == 1,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var events = Channel.CreateBounded<Proto.ExitEvent>(new BoundedChannelOptions(64)
        {
            SingleReader = true,
            SingleWriter = _options.MaxFramesInFlightPerStream == 1,
            FullMode = BoundedChannelFullMode.Wait,
        });

        using var tracked = ServerMetrics.TrackStream(() => frames.Reader.Count);
        var reader = ReadFramesAsync(first, settings, frames.Writer, cts);
        var workers = RunWorkersAsync(settings, frames.Reader, events.Writer, token);
        try
        {
            await foreach (var e in events.Reader.ReadAllAsync(token))
            {
                await _responses.WriteAsync(e, token);
            }

            await reader;
            await workers;
            ServerLog.StreamClosed(_logger, _streamId, Interlocked.Read(ref _frames));
        }
        catch (Exception) when (callToken.IsCancellationRequested)
        {
            ServerLog.StreamCancelled(_logger, _streamId, Interlocked.Read(ref _frames));
            throw new RpcException(new Status(StatusCode.Cancelled, "The client cancelled the stream."));
        }
        finally
        {
            await cts.CancelAsync();

            // Observe both tasks so that nothing faults unobserved; their errors were surfaced above or are moot.
            await Task.WhenAll(reader, workers).ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task ReadFramesAsync(Proto.StreamRequest first, ResolvedOptions settings, ChannelWriter<QueuedFrame> frames, CancellationTokenSource cts)
    {
        // Let the caller start its writer loop before this one blocks on the network.
        await Task.Yield();
        var token = cts.Token;
        try
        {
            if (first.Frame is not null)
            {
                await frames.WriteAsync(Queue(first.Frame, settings), token);
            }

            while (await _requests.MoveNext(token))
            {
                var request = _requests.Current;
                if (request.Frame is null)
                {
                    // Options after the first message are ignored, as documented; a message with no frame carries nothing.
                    continue;
                }

                await frames.WriteAsync(Queue(request.Frame, settings), token);
            }

            frames.TryComplete();
        }
        catch (Exception ex)
        {
            frames.TryComplete(ex);
            await cts.CancelAsync();
            throw;
        }
    }

    private QueuedFrame Queue(Proto.Frame frame, ResolvedOptions settings)
    {
        var received = _clock.GetTimestamp();
        var number = Interlocked.Increment(ref _frames) - 1;
        var id = string.IsNullOrEmpty(frame.FrameId) ? number.ToString(CultureInfo.InvariantCulture) : frame.FrameId;
        if (!ImageMapper.TryMap(frame.Image, "frame.image", out var image, out var error))
        {
            return new QueuedFrame(null, FrameEvaluation.Failed(id, FrameErrorCode.InvalidArgument, error!, TimeSpan.Zero));
        }

        TimeSpan? budget = settings.Budget;
        if (frame.Budget is { } d)
        {
            if (d.Seconds < 0 || d.Nanos < 0)
            {
                return new QueuedFrame(null, FrameEvaluation.Failed(id, FrameErrorCode.InvalidArgument, "frame.budget is negative.", TimeSpan.Zero));
            }

            budget = ResolvedOptions.ToBudget(d, "frame.budget") ?? settings.Budget;
        }

        return new QueuedFrame(new FrameRequest(id, image, settings.Policy, settings.Mode, budget, received), null);
    }

    private async Task RunWorkersAsync(ResolvedOptions settings, ChannelReader<QueuedFrame> frames, ChannelWriter<Proto.ExitEvent> events, CancellationToken token)
    {
        try
        {
            var workers = new Task[_options.MaxFramesInFlightPerStream];
            for (var i = 0; i < workers.Length; i++)
            {
                // Each worker on a pool thread of its own: the engine runs a frame's stages on its caller's thread, so a
                // worker started inline would run queued frames before the next worker started.
                workers[i] = Task.Run(() => ProcessFramesAsync(settings, frames, events, token), CancellationToken.None);
            }

            await Task.WhenAll(workers);
            events.TryComplete();
        }
        catch (Exception ex)
        {
            events.TryComplete(ex);
            throw;
        }
    }

    private async Task ProcessFramesAsync(ResolvedOptions settings, ChannelReader<QueuedFrame> frames, ChannelWriter<Proto.ExitEvent> events, CancellationToken token)
    {
        var engine = settings.Engine;
        await foreach (var frame in frames.ReadAllAsync(token))
        {
            if (frame.Request is null)
            {
                ServerLog.FrameFailed(_logger, _streamId, frame.Failure!.FrameId, frame.Failure.Error ?? "");
                await events.WriteAsync(EventMapper.ToProto(frame.Failure, engine.Classes, settings.TopK), token);
                continue;
            }

            await foreach (var e in engine.ClassifyAsync(frame.Request, token))
            {
                if (e.Kind == ExitKind.Error)
                {
                    ServerLog.FrameFailed(_logger, _streamId, e.FrameId, e.Error ?? "");
                }

                await events.WriteAsync(EventMapper.ToProto(e, engine.Classes, settings.TopK), token);
            }
        }
    }

    private sealed record QueuedFrame(FrameRequest? Request, ExitEvent? Failure);
}
