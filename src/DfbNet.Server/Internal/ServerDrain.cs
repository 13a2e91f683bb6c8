using Grpc.Core;
using Grpc.Core.Interceptors;

namespace DfbNet.Server.Internal;

/// <summary>
/// The server's shutdown drain. From the moment the host starts stopping (SIGTERM; <see cref="StreamDrainWaiter"/>
/// begins it, and holds the stop until the streams have ended), health reports NOT_SERVING, new
/// calls are refused with UNAVAILABLE, and open streams stop reading frames, answer every frame they accepted, and end
/// with UNAVAILABLE (clients reconnect elsewhere); the host waits up to <c>DfbNet:DrainSeconds</c> for them.
/// </summary>
internal sealed class ServerDrain : IDisposable
{
    private readonly CancellationTokenSource _draining = new();
    private readonly ILogger<ServerDrain> _logger;

    public ServerDrain(ILogger<ServerDrain> logger) => _logger = logger;

    public bool IsDraining => _draining.IsCancellationRequested;

    /// <summary>Fires when the drain begins.</summary>
    public CancellationToken Draining => _draining.Token;

    /// <summary>The status of a call refused, or a stream ended, by the drain.</summary>
    public static Status ShuttingDown(string detail) => new(StatusCode.Unavailable, $"The server is shutting down: {detail}");

    /// <exception cref="RpcException">UNAVAILABLE while draining.</exception>
    public void ThrowIfDraining()
    {
        if (IsDraining)
        {
            throw new RpcException(ShuttingDown("no new calls are taken; retry on another instance."));
        }
    }

    public void Dispose() => _draining.Dispose();

    /// <summary>Starts the drain; called once, as the host begins to stop.</summary>
    public void Begin()
    {
        ServerLog.DrainStarted(_logger);
        _draining.Cancel();
    }
}

/// <summary>Refuses every new call but health checks while the server drains.</summary>
internal sealed class DrainInterceptor(ServerDrain drain) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, responseStream, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }

    private void Check(ServerCallContext context)
    {
        // Health stays answerable: it is how balancers learn of the drain (NOT_SERVING).
        if (!context.Method.StartsWith("/grpc.health.v1.Health/", StringComparison.Ordinal))
        {
            drain.ThrowIfDraining();
        }
    }
}
