using System.Threading.Channels;
using DfbNet.Core;

namespace DfbNet.Runtime.Scheduling;

/// <summary>One frame's events into a bounded channel sized for all of them (so a write never waits); completed by
/// the final event or by cancellation.</summary>
internal sealed class ChannelEventSink : IFrameEventSink
{
    private readonly Channel<ExitEvent> _events;

    public ChannelEventSink(int capacity) =>
        _events = Channel.CreateBounded<ExitEvent>(new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true });

    public ChannelReader<ExitEvent> Reader => _events.Reader;

    public void OnEvent(ExitEvent exitEvent)
    {
        _events.Writer.TryWrite(exitEvent);
        if (exitEvent.IsFinal)
        {
            _events.Writer.TryComplete();
        }
    }

    public void OnCancelled() => _events.Writer.TryComplete();
}
