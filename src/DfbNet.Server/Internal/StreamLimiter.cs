using Grpc.Core;
using Microsoft.Extensions.Options;

namespace DfbNet.Server.Internal;

/// <summary>The server's bound on open streams of both protocols (<see cref="DfbNetServerOptions.MaxStreams"/>), and
/// each authenticated caller's (<see cref="CallerQuotaOptions.MaxStreams"/>).</summary>
internal sealed class StreamLimiter(IOptions<DfbNetServerOptions> options, CallerQuotas callers)
{
    private readonly int _max = options.Value.MaxStreams;
    private int _open;

    public int Open => Volatile.Read(ref _open);

    /// <summary>The callers' quotas, for the frames of unary calls.</summary>
    public CallerQuotas Callers => callers;

    /// <summary>Counts a stream of the call's caller until the handle is disposed.</summary>
    /// <exception cref="RpcException">RESOURCE_EXHAUSTED when the server, or the caller, has as many open streams as it allows.</exception>
    public Lease Enter(ServerCallContext context)
    {
        var caller = callers.For(context);
        caller?.EnterStream();
        if (!BoundedCount.TryIncrement(ref _open, _max))
        {
            caller?.ExitStream();
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"The server has {_max} streams open, as many as DfbNet:MaxStreams allows; try again later."));
        }

        return new Lease(this, caller);
    }

    public readonly struct Lease(StreamLimiter limiter, CallerQuota? caller) : IDisposable
    {
        /// <summary>The stream's caller; null when authentication is off.</summary>
        public CallerQuota? Caller => caller;

        public void Dispose()
        {
            Interlocked.Decrement(ref limiter._open);
            caller?.ExitStream();
        }
    }
}
