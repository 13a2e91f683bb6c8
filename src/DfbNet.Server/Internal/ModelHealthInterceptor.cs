using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Health.V1;

namespace DfbNet.Server.Internal;

/// <summary>
/// grpc.health.v1 per model and version: a Check or Watch whose service is a model's name (<c>NAME</c>, or
/// <c>NAME/VERSION</c>) is answered from the model registry: SERVING while that model (that version) is served and the
/// server is not draining, NOT_SERVING for one that is only on disk (or while draining). Any other service (the server
/// as a whole, "", and gRPC service names) is the health checks' answer, as before: NOT_FOUND for one they do not know.
/// </summary>
internal sealed class ModelHealthInterceptor(ModelRegistry models, ServerDrain drain) : Interceptor
{
    private const string Check = "/grpc.health.v1.Health/Check";
    private const string Watch = "/grpc.health.v1.Health/Watch";

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (context.Method == Check && request is HealthCheckRequest { Service.Length: > 0 } health && StatusOf(health.Service) is { } status)
        {
            return (TResponse)(object)new HealthCheckResponse { Status = status };
        }

        return await continuation(request, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (context.Method != Watch || request is not HealthCheckRequest { Service.Length: > 0 } health || StatusOf(health.Service) is null)
        {
            await continuation(request, responseStream, context);
            return;
        }

        // The protocol's Watch: the status now, then each change (looked at once a second), until the client leaves.
        HealthCheckResponse.Types.ServingStatus? last = null;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        do
        {
            var status = StatusOf(health.Service) ?? HealthCheckResponse.Types.ServingStatus.ServiceUnknown;
            if (status != last)
            {
                await responseStream.WriteAsync((TResponse)(object)new HealthCheckResponse { Status = status }, context.CancellationToken);
                last = status;
            }
        }
        while (await timer.WaitForNextTickAsync(context.CancellationToken));
    }

    private HealthCheckResponse.Types.ServingStatus? StatusOf(string service)
    {
        var slash = service.IndexOf('/', StringComparison.Ordinal);
        var (name, version) = slash < 0 ? (service, null) : (service[..slash], service[(slash + 1)..]);
        var served = models.VersionOf(name);
        if (served is not null && (version is null || version == served))
        {
            return drain.IsDraining ? HealthCheckResponse.Types.ServingStatus.NotServing : HealthCheckResponse.Types.ServingStatus.Serving;
        }

        return models.Index().Any(e => e.Name == name && (version is null || e.Version == version))
            ? HealthCheckResponse.Types.ServingStatus.NotServing
            : null;
    }
}
