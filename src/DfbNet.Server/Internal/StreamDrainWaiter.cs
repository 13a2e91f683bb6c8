namespace DfbNet.Server.Internal;

/// <summary>
/// Holds the host's stop until the drain has ended every open stream and the clients have read those ends, before
/// Kestrel closes the connections. Kestrel closes a connection as soon as its last stream ends. A client that is still
/// writing frames then has data in flight, and closing a socket with unread data resets it (TCP RST), which discards
/// what the client had not yet read: the stream's last final events and the trailers that say how many frames it
/// accepted. A short linger after the last stream ends lets the client read them and stop writing (each ended stream
/// is reset with NO_ERROR, so its writer stops).
/// </summary>
internal sealed class StreamDrainWaiter(ServerDrain drain, StreamLimiter streams, TimeProvider clock) : IHostedLifecycleService
{
    /// <summary>How long connections stay open after the last stream has ended.</summary>
    internal static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(250);

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    /// <summary>Runs once, before any hosted service stops (Kestrel included), whatever began the stop (a signal, or a
    /// call to the host): the drain starts here, then waits, within the host's shutdown timeout.</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        drain.Begin();
        if (streams.Open == 0)
        {
            return;
        }

        try
        {
            while (streams.Open > 0)
            {
                await Task.Delay(Poll, clock, cancellationToken).ConfigureAwait(false);
            }

            await Task.Delay(Linger, clock, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The shutdown timeout (DfbNet:DrainSeconds) is up: Kestrel's stop comes next and ends what is left.
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
