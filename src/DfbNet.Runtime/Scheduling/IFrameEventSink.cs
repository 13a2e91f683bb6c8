using DfbNet.Core;

namespace DfbNet.Runtime.Scheduling;

/// <summary>Receives a submitted frame's events, the last one final. Called on the scheduler's executor threads: it must
/// not block (write to a channel sized for the frame's events, for example).</summary>
public interface IFrameEventSink
{
    void OnEvent(ExitEvent exitEvent);

    /// <summary>The frame was abandoned because its cancellation token fired; no final event follows.</summary>
    void OnCancelled();
}
