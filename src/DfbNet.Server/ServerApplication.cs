using DfbNet.Server.Internal;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace DfbNet.Server;

/// <summary>Builds the DfbNet web application; <c>Program</c> and the functional tests share it.</summary>
public static class ServerApplication
{
    /// <param name="args">Command line: <c>--urls</c>, <c>--DfbNet:ModelRoot=...</c> and any other configuration key.</param>
    /// <param name="configure">Extra configuration before the app is built (tests add in-memory settings).</param>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // The content root is the application's folder, not the working directory: started from anywhere, the server reads
        // its own appsettings.json (the model root is still looked up from the working directory upwards too).
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

        // The scrape endpoint and the REST API, when configured, are listeners of their own that speak HTTP/1.1.
        var http1 = Http1Listeners.FromConfiguration(builder.Configuration);
        if (http1.ServerUrls.Count > 0)
        {
            builder.WebHost.UseUrls([.. http1.ServerUrls]);
        }

        if (http1.MetricsPort is not null)
        {
            builder.Services.AddDfbNetMetrics();
        }

        // Credentials are required unless every listener is reachable from this machine only (DfbNet:Auth); with a
        // certificate (DfbNet:Tls) the gRPC and REST addresses must all be https (the scrape may stay plain). Both are
        // checked here, so that a mistake stops start-up with one line.
        var grpc = ServerAddresses.Configured(builder.Configuration);
        var auth = DfbNetAuthentication.Plan(builder.Configuration, [.. grpc, .. http1.Urls(metrics: true)]);
        var tls = TlsCertificates.Load(builder.Configuration, [.. grpc, .. http1.Urls(metrics: false)], DateTimeOffset.UtcNow);
        builder.Services.AddDfbNetAuthentication(auth);
        if (tls is not null)
        {
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(tls.Apply));
        }

        // gRPC only: HTTP/2 on every other endpoint, also without TLS (h2c), as gRPC clients expect.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen =>
            listen.Protocols = http1.Serves(listen) ? HttpProtocols.Http1 : HttpProtocols.Http2));
        builder.Services.AddDfbNetServer();
        var tracing = ConfigurationSections.Bind<DfbNetTracingOptions>(builder.Configuration, DfbNetTracingOptions.SectionName);
        if (tracing.Enabled ?? !string.IsNullOrWhiteSpace(tracing.OtlpEndpoint))
        {
            builder.Services.AddDfbNetTracing(tracing);
        }

        configure?.Invoke(builder);

        var app = builder.Build();
        ServerLog.SecurityConfigured(
            app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("DfbNet.Server.Security"),
            auth.Enabled ? "on" : "off",
            auth.Why,
            auth.Keys.Count,
            auth.Jwt ? $"on ({auth.JwtKeys.Count} keys, issuer {auth.Options.Jwt.Issuer})" : "off",
            tls is null ? "off" : tls.MutualTls ? "on, client certificates required" : "on");
        if (auth.Enabled)
        {
            app.UseAuthentication();
            app.UseAuthorization();
        }

        app.MapDfbNet();
        if (http1.MetricsPort is { } metricsPort)
        {
            app.MapDfbNetMetrics(metricsPort);
        }

        if (http1.RestPort is { } restPort)
        {
            app.MapDfbNetRest(restPort);
        }

        return app;
    }
}
