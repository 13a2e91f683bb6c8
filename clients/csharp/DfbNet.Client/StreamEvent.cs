using DfbNet.Protocol.V1;

namespace DfbNet.Client;

/// <summary>An exit event of a stream together with the frame it belongs to.</summary>
public sealed class StreamEvent
{
    /// <summary>An event as the client yields it; public so that a fake <see cref="IDfbNetClient"/> in a test can yield
    /// events too.</summary>
    /// <param name="frame">The frame it answers.</param>
    /// <param name="wire">The server's event.</param>
    /// <param name="roundTrip">Client time from the frame's first send to this event.</param>
    /// <param name="resent">Whether it answers a resend after a reconnection.</param>
    /// <exception cref="ArgumentNullException"><paramref name="frame"/> or <paramref name="wire"/> is null.</exception>
    public StreamEvent(InputFrame frame, ExitEvent wire, TimeSpan roundTrip, bool resent = false)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(wire);
        Frame = frame;
        Wire = wire;
        RoundTrip = roundTrip;
        Resent = resent;
    }

    /// <summary>The frame, with the id the client gave it where it had none.</summary>
    public InputFrame Frame { get; }

    /// <summary>The server's event in SDK types (made once, on first use: a caller that reads only <see cref="Wire"/>
    /// allocates nothing for it).</summary>
    public FrameEvent Event => _event ??= FrameEvent.FromWire(Wire);

    private FrameEvent? _event;

    /// <summary>The server's event as it came over the wire.</summary>
    public ExitEvent Wire { get; }

    /// <summary>Client time from when the frame was first sent to when this event arrived (resends included).</summary>
    public TimeSpan RoundTrip { get; }

    /// <summary>True when the frame was resent after a reconnection and this event answers the resend; events of the
    /// frame from before the break (never a final one) were already delivered and may repeat.</summary>
    public bool Resent { get; }

    /// <summary>True on the frame's last event: the client sends it no more.</summary>
    public bool IsFinal => Wire.Final;
}
