using Grpc.Core;
using Microsoft.Extensions.Options;

namespace DfbNet.Server.Internal;

/// <summary>The server's bound on open streams of both protocols (<see cref="DfbNetServerOptions.MaxStreams"/>).</summary>
internal sealed class StreamLimiter(IOptions<DfbNetServerOptions> options)
{
    private readonly int _max = options.Value.MaxStreams;
    private int _open;

    public int Open => Volatile.Read(ref _open);

    /// <summary>Counts a stream until the handle is disposed.</summary>
    /// <exception cref="RpcException">RESOURCE_EXHAUSTED when the server has as many open streams as it allows.</exception>
    public Lease Enter()
    {
        if (Interlocked.Increment(ref _open) > _max)
        {
            Interlocked.Decrement(ref _open);
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"The server has {_max} streams open, as many as DfbNet:MaxStreams allows; try again later."));
        }

        return new Lease(this);
    }

    public readonly struct Lease(StreamLimiter limiter) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref limiter._open);
    }
}
