using System.Diagnostics;
using System.Globalization;
using DfbNet.Protocol.V1;
using Google.Protobuf.WellKnownTypes;

namespace DfbNet.Client.Internal;

/// <summary>The frames of a stream that were sent and have no final event yet, in the order sent: those a reconnection resends.</summary>
internal sealed class PendingFrames
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, PendingFrame> _frames = new(StringComparer.Ordinal);
    private long _sequence;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _frames.Count;
            }
        }
    }

    /// <summary>Registers a frame about to be sent; frames without an id are numbered.</summary>
    /// <exception cref="ArgumentException">Another frame in flight has the same id.</exception>
    public PendingFrame Add(InputFrame frame)
    {
        lock (_lock)
        {
            var sequence = _sequence++;
            if (string.IsNullOrEmpty(frame.Id))
            {
                frame = frame with { Id = sequence.ToString(CultureInfo.InvariantCulture) };
            }

            var pending = new PendingFrame(frame, sequence, Stopwatch.GetTimestamp());
            if (!_frames.TryAdd(frame.Id!, pending))
            {
                throw new ArgumentException($"Frame id '{frame.Id}' is already in flight; ids must be unique among the frames not yet answered.", nameof(frame));
            }

            return pending;
        }
    }

    /// <summary>The frame an event belongs to; removed when the event is final.</summary>
    public bool TryTake(ExitEvent exitEvent, out PendingFrame? frame)
    {
        lock (_lock)
        {
            if (!_frames.TryGetValue(exitEvent.FrameId, out frame))
            {
                return false;
            }

            if (exitEvent.Final)
            {
                _frames.Remove(exitEvent.FrameId);
            }

            return true;
        }
    }

    /// <summary>The frames to resend, oldest first, each marked as resent.</summary>
    public List<PendingFrame> TakeForResend()
    {
        lock (_lock)
        {
            var list = _frames.Values.OrderBy(f => f.Sequence).ToList();
            foreach (var f in list)
            {
                f.Resent = true;
            }

            return list;
        }
    }
}

/// <summary>One frame in flight.</summary>
internal sealed class PendingFrame(InputFrame frame, long sequence, long sentAt)
{
    public InputFrame Frame { get; } = frame;

    public long Sequence { get; } = sequence;

    public long SentAt { get; } = sentAt;

    public bool Resent { get; set; }

    public StreamRequest ToRequest()
    {
        var wire = new Protocol.V1.Frame { FrameId = Frame.Id, Image = Frame.Image.ToProto() };
        if (Frame.Budget is { } budget)
        {
            wire.Budget = Duration.FromTimeSpan(budget);
        }

        return new StreamRequest { Frame = wire };
    }
}
