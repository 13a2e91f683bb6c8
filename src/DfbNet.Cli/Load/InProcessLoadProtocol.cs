using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using DfbNet.Runtime;
using DfbNet.Runtime.Preprocessing;
using Grpc.Core;
using Core = DfbNet.Core;
using ExitKind = DfbNet.Protocol.V1.ExitKind;

namespace DfbNet.Cli.Load;

/// <summary>
/// No server: every stream hands its frames straight to an <see cref="EarlyExitEngine"/> in this process
/// (<c>--in-process MODEL_FOLDER</c>), so that a run against a server with the same flags shows what serving adds (gRPC,
/// HTTP/2, the stream sessions). The frames travel as they would to a server (encoded bytes decoded by the engine, or raw
/// pixels), and each stream behaves as a server stream does by default: one frame in the engine at a time
/// (MaxFramesInFlightPerStream 1), up to <see cref="StreamQueueCapacity"/> more waiting (StreamQueueCapacity 8), and a
/// write that finds them all taken waits, as HTTP/2 flow control makes a client wait. A frame's budget runs from the
/// moment it joins its stream's queue, as a server's runs from the moment it reads the frame.
/// </summary>
internal sealed class InProcessLoadProtocol : ILoadProtocol
{
    /// <summary>Frames of a stream waiting for the engine, as the server's <c>StreamQueueCapacity</c> default.</summary>
    public const int StreamQueueCapacity = 8;

    private readonly EarlyExitEngine _engine;
    private readonly Core.ExitPolicy _policy;
    private readonly Core.InferenceMode _mode;
    private readonly bool _alwaysAnswer;

    // Built once and shared by every request: the engine only reads an image's bytes.
    private readonly ImageSource[] _images;

    /// <param name="engine">The engine, loaded and warmed up; the caller owns it.</param>
    /// <param name="frames">The frames of the run.</param>
    /// <param name="policy">The thresholds of every frame (<see cref="EarlyExitEngine.ResolvePolicy"/>).</param>
    /// <param name="mode">The mode of every frame.</param>
    /// <param name="alwaysAnswer">Run exit 1 even when a frame's budget cannot be met.</param>
    public InProcessLoadProtocol(EarlyExitEngine engine, FrameSet frames, Core.ExitPolicy policy, Core.InferenceMode mode, bool alwaysAnswer)
    {
        _engine = engine;
        _policy = policy;
        _mode = mode;
        _alwaysAnswer = alwaysAnswer;
        _images = frames.Frames.Select(f => f.IsRaw
            ? ImageSource.Raw(f.Bytes, f.Height, f.Width)
            : ImageSource.Encoded(f.Bytes)).ToArray();
    }

    public string Name => "in-process";

    public Task<ILoadStream> OpenAsync(CancellationToken cancellationToken) => Task.FromResult<ILoadStream>(new InProcessLoadStream(this, cancellationToken));

    /// <summary>An engine event as a protocol-neutral one; error codes keep their names, which are the gRPC status names
    /// a server would send ("Unavailable" for a refusal at admission).</summary>
    internal static LoadEvent ToEvent(Core.ExitEvent e) => new(
        e.FrameId,
        e.IsFinal,
        e.Kind switch
        {
            Core.ExitKind.BelowThreshold => ExitKind.BelowThreshold,
            Core.ExitKind.EarlyExit => ExitKind.EarlyExit,
            Core.ExitKind.Refinement => ExitKind.Refinement,
            Core.ExitKind.Fused => ExitKind.Fused,
            Core.ExitKind.BudgetCut => ExitKind.BudgetCut,
            Core.ExitKind.Dropped => ExitKind.Dropped,
            Core.ExitKind.Error => ExitKind.Error,
            _ => ExitKind.Unspecified,
        },
        e.Exit,
        e.Prediction?.ClassIndex ?? -1,
        e.ServerTime,
        e.QueueTime,
        e.Kind == Core.ExitKind.Error ? e.ErrorCode.ToString() : null);

    private FrameRequest Request(int frameIndex, string frameId, double budgetMs, long received) =>
        new(frameId, _images[frameIndex], _policy, _mode, budgetMs > 0 ? TimeSpan.FromMilliseconds(budgetMs) : null, received) { AlwaysAnswer = _alwaysAnswer };

    /// <summary>
    /// One stream: the writer puts frames in a bounded queue, one worker runs them through the engine one at a time, and
    /// the reader takes their events from a bounded channel. A worker that fails ends the stream as a server's
    /// <c>Internal</c> error would, so that the run reports a failed stream rather than crashing.
    /// </summary>
    private sealed class InProcessLoadStream : ILoadStream
    {
        private readonly InProcessLoadProtocol _protocol;
        private readonly Channel<FrameRequest> _frames = Channel.CreateBounded<FrameRequest>(
            new BoundedChannelOptions(StreamQueueCapacity) { SingleReader = true, SingleWriter = true });

        private readonly Channel<LoadEvent> _events;
        private readonly CancellationTokenSource _stop;
        private readonly Task _worker;
        private RpcException? _failure;

        public InProcessLoadStream(InProcessLoadProtocol protocol, CancellationToken cancellationToken)
        {
            _protocol = protocol;

            // Room for every event of the frames a stream holds, so that the worker waits for a slow reader only when
            // the reader has fallen behind by more than that.
            _events = Channel.CreateBounded<LoadEvent>(new BoundedChannelOptions((StreamQueueCapacity + 1) * (protocol._engine.ExitCount + 1)) { SingleReader = true, SingleWriter = true });
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _worker = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        }

        public async Task WriteAsync(int frameIndex, string frameId, double budgetMs, CancellationToken cancellationToken)
        {
            // Stamped when the frame joins the queue, not while it waits for room: a server reads it off the wire then.
            while (await _frames.Writer.WaitToWriteAsync(cancellationToken))
            {
                if (_frames.Writer.TryWrite(_protocol.Request(frameIndex, frameId, budgetMs, Stopwatch.GetTimestamp())))
                {
                    return;
                }
            }

            throw new InvalidOperationException("The stream has ended.");
        }

        public Task CompleteAsync()
        {
            _frames.Writer.TryComplete();
            return Task.CompletedTask;
        }

        public async IAsyncEnumerable<LoadEvent> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (var e in _events.Reader.ReadAllAsync(cancellationToken))
            {
                yield return e;
            }

            if (_failure is { } failure)
            {
                throw failure;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _worker;
            _stop.Dispose();
        }

        private async Task RunAsync(CancellationToken cancellationToken)
        {
            try
            {
                await foreach (var request in _frames.Reader.ReadAllAsync(cancellationToken))
                {
                    await foreach (var e in _protocol._engine.ClassifyAsync(request, cancellationToken))
                    {
                        await _events.Writer.WriteAsync(ToEvent(e), cancellationToken);
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The end of the drain: frames still in the engine are abandoned, as a cancelled call abandons them.
            }
#pragma warning disable CA1031 // Any failure of the engine ends this stream, reported as a failed stream, not the run.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _failure = new RpcException(new Status(StatusCode.Internal, $"the in-process engine failed: {ex.Message}"));
            }
            finally
            {
                _events.Writer.TryComplete();
            }
        }
    }
}
