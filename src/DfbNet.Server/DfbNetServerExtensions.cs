using DfbNet.Runtime;
using DfbNet.Server.Internal;
using DfbNet.Server.Services;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace DfbNet.Server;

/// <summary>Wires DfbNet into an ASP.NET Core host, as <c>AddGrpc</c>/<c>MapGrpcService</c> do for gRPC.</summary>
public static class DfbNetServerExtensions
{
    /// <summary>Adds the DfbNet options (section <c>DfbNet</c>, validated at start-up), the model registry, gRPC,
    /// health checks and reflection.</summary>
    public static IServiceCollection AddDfbNetServer(this IServiceCollection services)
    {
        services.AddOptions<DfbNetServerOptions>()
            .BindConfiguration(DfbNetServerOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddOptions<DfbNetAuthOptions>().BindConfiguration(DfbNetAuthOptions.SectionName);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<CallerQuotas>();
        services.AddSingleton(provider => new RepositoryAccess(provider.GetService<AuthPlan>()));
        services.AddHostedService<ModelRepositoryPoller>();
        services.AddSingleton<ModelRegistry>();
        services.AddSingleton<StreamLimiter>();
        services.AddSingleton<ServerDrain>();
        services.AddHostedService<StreamDrainWaiter>();
        services.AddOptions<HostOptions>()
            .Configure<IOptions<DfbNetServerOptions>>((host, dfbnet) => host.ShutdownTimeout = TimeSpan.FromSeconds(dfbnet.Value.DrainSeconds));
        services.AddGrpc(grpc =>
        {
            grpc.Interceptors.Add<DrainInterceptor>();
            grpc.Interceptors.Add<ModelHealthInterceptor>();
        });
        services.AddOptions<Grpc.AspNetCore.Server.GrpcServiceOptions>()
            .Configure<IOptions<DfbNetServerOptions>>((grpc, dfbnet) =>
            {
                grpc.MaxReceiveMessageSize = dfbnet.Value.MaxMessageBytes;
                grpc.EnableDetailedErrors = false;
            });
        services.AddOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>()
            .Configure<IOptions<DfbNetServerOptions>>((kestrel, dfbnet) =>
            {
                // A small stream window: what a client sent and the server has not read stays a few frames, not
                // hundreds, so that a frame's time from the client's write to its answer stays bounded (the server reads
                // eagerly).
                var http2 = kestrel.Limits.Http2;
                http2.InitialStreamWindowSize = dfbnet.Value.Http2StreamWindowBytes;
                http2.InitialConnectionWindowSize = Math.Max(http2.InitialConnectionWindowSize, http2.InitialStreamWindowSize);
                http2.MaxStreamsPerConnection = dfbnet.Value.MaxStreamsPerConnection;
            });
        services.AddGrpcHealthChecks().AddCheck<ModelsHealthCheck>("models");
        services.AddGrpcReflection();

        // Load every model before the server accepts calls: a bad manifest stops start-up, not the first request.
        services.AddHostedService<ModelLoader>();
        return services;
    }

    /// <summary>Maps the native service, the Open Inference Protocol, grpc.health.v1 and server reflection; with
    /// authentication on (<see cref="DfbNetAuthOptions"/>), each behind the server's policy unless configured open.</summary>
    public static IEndpointRouteBuilder MapDfbNet(this IEndpointRouteBuilder endpoints)
    {
        var auth = endpoints.ServiceProvider.GetService<AuthPlan>();
        EndpointConventions.Protect(endpoints.MapGrpcService<DfbNetService>(), auth, open: false);
        EndpointConventions.Protect(endpoints.MapGrpcService<OpenInferenceService>(), auth, open: false);
        EndpointConventions.Protect(endpoints.MapGrpcHealthChecksService(), auth, auth?.Options.HealthOpen ?? true);
        EndpointConventions.Protect(endpoints.MapGrpcReflectionService(), auth, auth?.Options.ReflectionOpen ?? true);
        return endpoints;
    }

    /// <summary>Collects the runtime's instruments (frames, exits, frames in flight, stage and frame latency, provider
    /// switches) and the server's (open streams, their queued frames) with ASP.NET
    /// Core's and the .NET runtime's, for a Prometheus scrape (<see cref="MapDfbNetMetrics"/>).</summary>
    public static IServiceCollection AddDfbNetMetrics(this IServiceCollection services)
    {
        ServerMetrics.EnsureCreated();
        services.AddOpenTelemetry().ConfigureResource(DescribeService).WithMetrics(metrics => metrics
            .AddMeter(RuntimeMetrics.MeterName, ServerMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Runtime")
            .AddPrometheusExporter());
        return services;
    }

    /// <summary>Maps the Open Inference Protocol's REST API (KServe v2 HTTP, <c>/v2/...</c>) on the listener of port
    /// <paramref name="port"/> only (<see cref="DfbNetServerOptions.RestUrl"/>).</summary>
    public static IEndpointRouteBuilder MapDfbNetRest(this IEndpointRouteBuilder endpoints, int port)
    {
        Internal.Rest.OipRestEndpoints.Map(endpoints, port, endpoints.ServiceProvider.GetService<AuthPlan>());
        return endpoints;
    }

    /// <summary>Records traces (<see cref="DfbNetTracingOptions"/>): ASP.NET Core's span per call, the runtime's per frame
    /// and per stage (<see cref="RuntimeTracing"/>), exported over OTLP when an endpoint is set. Tests add their own
    /// exporter with <c>ConfigureOpenTelemetryTracerProvider</c>.</summary>
    /// <exception cref="InvalidOperationException">A setting out of range, named.</exception>
    public static IServiceCollection AddDfbNetTracing(this IServiceCollection services, DfbNetTracingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.SampleRatio is < 0 or > 1 || double.IsNaN(options.SampleRatio))
        {
            throw new InvalidOperationException($"{DfbNetTracingOptions.SectionName}:SampleRatio {options.SampleRatio} must be between 0 and 1.");
        }

        Uri? endpoint = null;
        if (!string.IsNullOrWhiteSpace(options.OtlpEndpoint) && !Uri.TryCreate(options.OtlpEndpoint, UriKind.Absolute, out endpoint))
        {
            throw new InvalidOperationException($"{DfbNetTracingOptions.SectionName}:OtlpEndpoint '{options.OtlpEndpoint}' is not an absolute URL.");
        }

        var protocol = options.OtlpProtocol.ToLowerInvariant() switch
        {
            "grpc" => OpenTelemetry.Exporter.OtlpExportProtocol.Grpc,
            "http" or "http/protobuf" => OpenTelemetry.Exporter.OtlpExportProtocol.HttpProtobuf,
            _ => throw new InvalidOperationException($"{DfbNetTracingOptions.SectionName}:OtlpProtocol '{options.OtlpProtocol}' is not grpc or http."),
        };

        services.AddOpenTelemetry().ConfigureResource(DescribeService).WithTracing(tracing =>
        {
            // The call spans: ASP.NET Core's, named and tagged as gRPC calls (rpc.service, rpc.method, the status code).
            tracing.AddAspNetCoreInstrumentation()
                .AddSource(RuntimeTracing.SourceName)
                .SetSampler(new OpenTelemetry.Trace.ParentBasedSampler(new OpenTelemetry.Trace.TraceIdRatioBasedSampler(options.SampleRatio)));
            if (endpoint is not null)
            {
                tracing.AddOtlpExporter(otlp =>
                {
                    otlp.Endpoint = endpoint;
                    otlp.Protocol = protocol;
                });
            }
        });
        return services;
    }

    /// <summary>service.name (and version) of every signal: without it exporters say <c>unknown_service</c>.</summary>
    private static void DescribeService(OpenTelemetry.Resources.ResourceBuilder resource) =>
        resource.AddService("dfbnet-server", serviceVersion: typeof(DfbNetServerExtensions).Assembly.GetName().Version?.ToString(3));

    /// <summary>Maps <c>GET /metrics</c> (Prometheus text format) on the listener of port <paramref name="port"/> only:
    /// the port a request came in on decides, not its Host header (which a client may set to anything).</summary>
    public static IEndpointConventionBuilder MapDfbNetMetrics(this IEndpointRouteBuilder endpoints, int port)
    {
        var endpoint = endpoints.MapPrometheusScrapingEndpoint();
        EndpointConventions.OnlyOnPort(endpoint, port);
        var auth = endpoints.ServiceProvider.GetService<AuthPlan>();
        EndpointConventions.Protect(endpoint, auth, auth?.Options.MetricsOpen ?? true);
        return endpoint;
    }

    private sealed class ModelLoader(ModelRegistry registry) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            // Resolving the registry (constructor argument) has loaded the models; a few frames through each warm the
            // managed frame path too, before the server takes calls.
            foreach (var name in registry.Names)
            {
                await registry.GetOrThrow(name).WarmUpFramesAsync(cancellationToken: cancellationToken);
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
