using System.Threading.Channels;
using DfbNet.Core;
using DfbNet.Runtime;
using DfbNet.Runtime.Scheduling;
using Grpc.Core;

namespace DfbNet.Server.Internal;

/// <summary>
/// One frame stream of either protocol (native ClassifyStream, OIP ModelStreamInfer); the protocol only translates
/// messages (<see cref="IFrameStreamProtocol{TRequest, TResponse}"/>).
/// </summary>
/// <remarks>
/// <para>The reader takes every message off the wire as it arrives and stamps it there (a frame's budget runs from that
/// moment), so frames do not wait unseen in transport buffers while the server has room. Each frame then holds one of
/// the stream's slots (<see cref="DfbNetServerOptions.StreamQueueCapacity"/> + in flight) until its final event is
/// written. With no slot free, the <c>queue</c> policy stops reading (HTTP/2 flow control slows the client), and the
/// <c>latest</c> policy ends the stream's oldest frame that has not started with a DROPPED event and takes its place.</para>
/// <para>A frame is admitted against its model's bound when it arrives, or refused at once with an error event
/// (UNAVAILABLE, or RESOURCE_EXHAUSTED for a stream above its share); the stream goes on. Admitted frames wait here
/// until fewer than <see cref="DfbNetServerOptions.MaxFramesInFlightPerStream"/> of the stream's frames are in the
/// model's scheduler, which batches them with other streams' frames. Every frame read ends with exactly one final
/// event; cancelling the call abandons the frames still in the server.</para>
/// </remarks>
// Not disposable: its SemaphoreSlim holds no kernel handle (AvailableWaitHandle is never used), and the scheduler may
// still give a slot back after the call has ended, when an abandoned frame is dropped.
#pragma warning disable CA1001
internal sealed class FrameStreamSession<TRequest, TResponse>
#pragma warning restore CA1001
    where TRequest : class
{
    private readonly IAsyncStreamReader<TRequest> _requests;
    private readonly IServerStreamWriter<TResponse> _responses;
    private readonly IFrameStreamProtocol<TRequest, TResponse> _protocol;
    private readonly ServerCallContext _context;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly StreamQueuePolicy _policy;
    private readonly int _maxInFlight;
    private readonly SemaphoreSlim _slots;
    private readonly SemaphoreSlim _refusals;
    private readonly Channel<(StreamFrame Frame, ExitEvent Event)> _events;
    private readonly LinkedList<StreamFrame> _pending = new();
    private readonly Lock _gate = new();
    private readonly AdmissionClient _client = new();
    private readonly TaskCompletionSource _allAnswered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _streamId = Guid.NewGuid().ToString("N")[..12];
    private readonly ServerDrain _drain;
    private readonly CallerQuota? _caller;
    private CancellationToken _token;
    private readonly TimeSpan _maxLifetime;
    private readonly System.Diagnostics.ActivityContext _trace = System.Diagnostics.Activity.Current?.Context ?? default;
    private bool _stoppedByDrain;
    private bool _stoppedByLifetime;
    private RpcException? _readFailure;
    private int _inScheduler;
    private int _outstanding;
    private bool _readerDone;
    private long _frames;

    public FrameStreamSession(IAsyncStreamReader<TRequest> requests, IServerStreamWriter<TResponse> responses, IFrameStreamProtocol<TRequest, TResponse> protocol, ServerCallContext context, CallerQuota? caller, DfbNetServerOptions options, ServerDrain drain, TimeProvider clock, ILogger logger)
    {
        _drain = drain;
        _caller = caller;
        _maxLifetime = StreamLifetime(options.MaxStreamSeconds);
        _requests = requests;
        _responses = responses;
        _protocol = protocol;
        _context = context;
        _clock = clock;
        _logger = logger;
        _policy = protocol.QueuePolicy ?? options.StreamQueuePolicy;
        _maxInFlight = options.MaxFramesInFlightPerStream;
        var slots = options.StreamQueueCapacity + options.MaxFramesInFlightPerStream;
        _slots = new SemaphoreSlim(slots, slots);
        _refusals = new SemaphoreSlim(RefusalReserve, RefusalReserve);

        // Every frame holding a slot has at most one event per exit and a final one unwritten, whatever model version it
        // runs on: the channel never fills, so an executor thread that hands an event over never waits for this client.
        _events = Channel.CreateBounded<(StreamFrame, ExitEvent)>(new BoundedChannelOptions((slots * (Core.Manifest.ModelManifest.MaxStages + 1)) + RefusalReserve) { SingleReader = true });
    }

    /// <summary>A stream's lifetime: the configured one less up to a tenth at random, so that streams opened together
    /// (after a deploy) do not all reconnect at once; zero for none.</summary>
    private static TimeSpan StreamLifetime(double seconds) =>
        seconds > 0 ? TimeSpan.FromSeconds(seconds * (1 - (Random.Shared.NextDouble() * 0.1))) : TimeSpan.Zero;

    private static readonly WriteOptions BufferedWrite = new(WriteFlags.BufferHint);

    /// <summary>Refusals of a stream whose queue is full that may be unwritten at once (each holds no slot).</summary>
    private const int RefusalReserve = 64;

    /// <summary>Trailer of a stream ended by the drain: how many frames it read (each answered).</summary>
    public const string FramesAcceptedTrailer = "dfbnet-frames-accepted";

    public string StreamId => _streamId;

    /// <summary>Frames read and not yet started (the stream's queue depth).</summary>
    public int Queued
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count;
            }
        }
    }

    /// <param name="first">A message the service already read (the native stream's first, for its options), or null.</param>
    /// <param name="firstReceived">When <paramref name="first"/> arrived.</param>
    public async Task RunAsync(TRequest? first = null, long firstReceived = 0)
    {
        var callToken = _context.CancellationToken;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(callToken);
        _token = cts.Token;
        using var tracked = ServerMetrics.TrackStream(() => Queued);
        ServerLog.StreamOpened(_logger, _streamId, _caller?.Name ?? "anonymous", _protocol.Description, _policy.ToString());
        var reader = ReadAsync(first, firstReceived, cts);
        try
        {
            await foreach (var (frame, e) in _events.Reader.ReadAllAsync(_token))
            {
                // More events ready (under load: answers and refusals of several frames): buffer this one, so that one
                // flush (one HTTP/2 write, one syscall) carries them all. The last event ready is always flushed.
                _responses.WriteOptions = _events.Reader.Count > 0 ? BufferedWrite : null;
                await _responses.WriteAsync(_protocol.ToResponse(frame, e), _token);
                if (e.IsFinal)
                {
                    EndFrame(frame);
                }
            }

            await reader;
            if (_readFailure is { } failure)
            {
                ServerLog.StreamReadFailed(_logger, _streamId, failure.StatusCode.ToString(), Interlocked.Read(ref _frames));
                throw new RpcException(failure.Status, failure.Trailers);
            }

            if (_stoppedByLifetime)
            {
                // The same clean end as the drain's: the client reconnects (to any pod) and sends the rest there.
                var accepted = Interlocked.Read(ref _frames);
                ServerLog.StreamLifetimeReached(_logger, _streamId, accepted);
                var trailers = new Metadata { { FramesAcceptedTrailer, accepted.ToString(System.Globalization.CultureInfo.InvariantCulture) } };
                throw new RpcException(new Status(StatusCode.Unavailable, $"The stream reached its maximum lifetime (DfbNet:MaxStreamSeconds {_maxLifetime.TotalSeconds:0} s, less up to a tenth so that streams do not all end together): it stopped taking frames after {accepted}, all of them answered; reconnect to send more."), trailers);
            }

            if (_stoppedByDrain)
            {
                // Every frame read was answered; the rest are the client's to send elsewhere.
                var accepted = Interlocked.Read(ref _frames);
                ServerLog.StreamDrained(_logger, _streamId, accepted);
                var trailers = new Metadata { { FramesAcceptedTrailer, accepted.ToString(System.Globalization.CultureInfo.InvariantCulture) } };
                throw new RpcException(ServerDrain.ShuttingDown($"this stream stopped taking frames after {accepted}, all of them answered; reconnect to send more."), trailers);
            }

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
            await reader.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            ReleasePending();
        }
    }

    private async Task ReadAsync(TRequest? first, long firstReceived, CancellationTokenSource cts)
    {
        // Let the caller start its writer loop before this one blocks on the network.
        await Task.Yield();
        var token = cts.Token;
        try
        {
            if (first is not null)
            {
                await ReadFrameAsync(first, firstReceived, token);
            }

            // The drain stops the reading (not the frames read): they are answered, then the call ends UNAVAILABLE.
            using var reading = CancellationTokenSource.CreateLinkedTokenSource(token, _drain.Draining);
            using var lifetime = _maxLifetime > TimeSpan.Zero ? new CancellationTokenSource(_maxLifetime, _clock) : null;
            using var expiry = lifetime?.Token.Register(static state => ((CancellationTokenSource)state!).Cancel(), reading);
            try
            {
                while (!_drain.IsDraining && lifetime?.IsCancellationRequested != true && await _requests.MoveNext(reading.Token))
                {
                    // A frame read is accepted whatever the drain: its slot wait is the call's alone.
                    await ReadFrameAsync(_requests.Current, _clock.GetTimestamp(), token);
                }
            }
            catch (OperationCanceledException) when ((_drain.IsDraining || lifetime?.IsCancellationRequested == true) && !token.IsCancellationRequested)
            {
                // A read cut short by the drain or the stream's lifetime: nothing was accepted by it.
            }
            catch (RpcException ex) when (!token.IsCancellationRequested)
            {
                // The transport refused a message (one over DfbNet:MaxMessageBytes is RESOURCE_EXHAUSTED): the frames
                // before it are answered first, then the call ends with that status.
                _readFailure = ex;
            }

            _stoppedByDrain = _drain.IsDraining;
            _stoppedByLifetime = !_stoppedByDrain && _readFailure is null && lifetime?.IsCancellationRequested == true;

            lock (_gate)
            {
                _readerDone = true;
            }

            CompleteIfDrained();
            await _allAnswered.Task.WaitAsync(token);
            _events.Writer.TryComplete();
        }
        catch (Exception ex)
        {
            _events.Writer.TryComplete(ex);
            await cts.CancelAsync();
            throw;
        }
    }

    private async Task ReadFrameAsync(TRequest message, long received, CancellationToken token)
    {
        if (!_protocol.CarriesFrame(message))
        {
            return;
        }

        var number = Interlocked.Increment(ref _frames) - 1;
        var frame = _protocol.Parse(message, received, number);
        Interlocked.Increment(ref _outstanding);
        if (!_slots.Wait(0, CancellationToken.None))
        {
            // The stream's queue is full. A saturated model refuses the frame now, on a reserve of its own, rather than
            // after the wait for a slot: a refusal arrives at once, and the stream's queue does not fill the model's bound.
            // (Under the latest policy the new frame replaces a waiting one instead.)
            if (_policy == StreamQueuePolicy.Queue && frame.Failure is null && _refusals.Wait(0, CancellationToken.None))
            {
                if (frame.Engine!.Admission.TryRefuse(_client, out var refusal))
                {
                    frame.Model?.Dispose();
                    _events.Writer.TryWrite((frame with { HoldsSlot = false }, frame.Engine.Refused(frame.Request!, refusal)));
                    return;
                }

                _refusals.Release();
            }

            await TakeSlotAsync(token);
        }

        Accept(frame);
    }

    private async Task TakeSlotAsync(CancellationToken token)
    {
        if (_policy == StreamQueuePolicy.Latest)
        {
            StreamFrame? oldest = null;
            lock (_gate)
            {
                for (var node = _pending.First; node is not null; node = node.Next)
                {
                    if (node.Value.Failure is null)
                    {
                        oldest = node.Value;
                        _pending.Remove(node);
                        break;
                    }
                }
            }

            if (oldest is not null)
            {
                // The newest frame replaces the oldest waiting one, whose slot frees once its DROPPED event is written.
                oldest.Engine!.Admission.Release(_client);
                oldest.Model?.Dispose();
                var dropped = FrameEvaluation.Dropped(oldest.Request!.FrameId, _clock.GetElapsedTime(oldest.Request.ReceivedTimestamp));
                oldest.Engine.RecordDropped(dropped);
                _events.Writer.TryWrite((oldest, dropped));
            }
        }

        await _slots.WaitAsync(token);
    }

    private void Accept(StreamFrame frame)
    {
        if (frame.Failure is null && _caller is { } caller && !caller.TryTakeFrame())
        {
            // Over the caller's rate: refused at once like an overload, and the stream goes on.
            frame.Model?.Dispose();
            _events.Writer.TryWrite((frame, FrameEvaluation.Failed(frame.Request!.FrameId, FrameErrorCode.ResourceExhausted, caller.FrameRateExceeded, _clock.GetElapsedTime(frame.Request.ReceivedTimestamp))));
            return;
        }

        if (frame.Failure is null)
        {
            var engine = frame.Engine!;
            if (!engine.Admission.TryAdmit(_client, out var refusal))
            {
                frame.Model?.Dispose();
                // Refused at once, ahead of the stream's waiting frames: the client learns of the overload now.
                _events.Writer.TryWrite((frame, engine.Refused(frame.Request!, refusal)));
                return;
            }
        }

        // A bad message waits its turn too, so that with one frame in flight the stream's answers keep its order.
        lock (_gate)
        {
            _pending.AddLast(frame);
        }

        Pump();
    }

    /// <summary>Starts waiting frames while fewer than the stream's in-flight limit are in the scheduler.</summary>
    private void Pump()
    {
        while (true)
        {
            StreamFrame frame;
            lock (_gate)
            {
                // A bad message's answer waits for the frame before it when frames run one at a time (their order holds).
                var limit = _maxInFlight == 1 ? 1 : int.MaxValue;
                if (_pending.First is not { } node || _inScheduler >= (node.Value.Failure is null ? _maxInFlight : limit))
                {
                    return;
                }

                frame = node.Value;
                _pending.RemoveFirst();
                if (frame.Failure is null)
                {
                    _inScheduler++;
                }
            }

            if (frame.Failure is { } failure)
            {
                ServerLog.FrameFailed(_logger, _streamId, failure.FrameId, failure.Error ?? "");
                _events.Writer.TryWrite((frame, failure));
                continue;
            }

            // Frames start on whichever thread frees a slot: the call's span is their parent, wherever that is.
            var request = _trace != default && RuntimeTracing.Enabled ? frame.Request! with { TraceParent = _trace } : frame.Request!;
            frame.Engine!.Submit(request, new Sink(this, frame), _client, _token);
        }
    }

    private void OnSchedulerDone()
    {
        bool waiting;
        lock (_gate)
        {
            _inScheduler--;
            waiting = _pending.Count > 0;
        }

        // Not on the executor thread that ended the frame: starting the next one decodes its image. Nothing waiting (the
        // usual case at camera rates): no hop at all.
        if (waiting)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static session => session.Pump(), this, preferLocal: false);
        }
    }

    /// <summary>A frame's final event is on the wire (or the frame was abandoned): its slot is free.</summary>
    private void EndFrame(StreamFrame frame)
    {
        (frame.HoldsSlot ? _slots : _refusals).Release();
        Interlocked.Decrement(ref _outstanding);
        CompleteIfDrained();
    }

    private void CompleteIfDrained()
    {
        bool done;
        lock (_gate)
        {
            done = _readerDone && Volatile.Read(ref _outstanding) == 0;
        }

        if (done)
        {
            _allAnswered.TrySetResult();
        }
    }

    /// <summary>After the call: frames admitted and never started give their admission back.</summary>
    private void ReleasePending()
    {
        lock (_gate)
        {
            foreach (var frame in _pending)
            {
                if (frame.Failure is null)
                {
                    frame.Engine!.Admission.Release(_client);
                    frame.Model?.Dispose();
                }
            }

            _pending.Clear();
        }
    }

    private sealed class Sink(FrameStreamSession<TRequest, TResponse> session, StreamFrame frame) : IFrameEventSink
    {
        public void OnEvent(ExitEvent exitEvent)
        {
            if (exitEvent.Kind == ExitKind.Error)
            {
                ServerLog.FrameFailed(session._logger, session._streamId, exitEvent.FrameId, exitEvent.Error ?? "");
            }

            if (exitEvent.IsFinal)
            {
                // The engine is done with the frame: its version may go (a reload) before the answer is written.
                frame.Model?.Dispose();
            }

            session._events.Writer.TryWrite((frame, exitEvent));
            if (exitEvent.IsFinal)
            {
                session.OnSchedulerDone();
            }
        }

        public void OnCancelled()
        {
            frame.Model?.Dispose();
            session.OnSchedulerDone();
            session.EndFrame(frame);
        }
    }
}

/// <summary>A frame of a stream after its protocol adapter parsed it: a request for an engine, or a failure to answer
/// with (a bad message). <see cref="State"/> is the adapter's own (for example the outputs an OIP request asked for).</summary>
internal sealed record StreamFrame(EarlyExitEngine? Engine, FrameRequest? Request, ExitEvent? Failure, object? State)
{
    /// <summary>The frame's lease on its model version, released once the engine is done with the frame (or the frame
    /// never reaches it); releasing twice releases once.</summary>
    public ModelLease? Model { get; init; }

    /// <summary>False for a frame refused on the stream's reserve for refusals, which holds none of its slots.</summary>
    public bool HoldsSlot { get; init; } = true;
}

/// <summary>What a protocol contributes to a <see cref="FrameStreamSession{TRequest, TResponse}"/>: parsing and mapping.</summary>
internal interface IFrameStreamProtocol<TRequest, TResponse>
{
    /// <summary>For the stream's log line: the model and mode.</summary>
    string Description { get; }

    /// <summary>The stream's own queue policy, when its options name one.</summary>
    StreamQueuePolicy? QueuePolicy { get; }

    /// <summary>False for a message that carries options only.</summary>
    bool CarriesFrame(TRequest message);

    /// <summary>Turns a message into a frame, or a failure event for a bad one (never throws for the client's mistakes).</summary>
    StreamFrame Parse(TRequest message, long receivedTimestamp, long frameNumber);

    TResponse ToResponse(StreamFrame frame, ExitEvent exitEvent);
}
