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

        // The scrape endpoint, when configured, is one more listener; it is the only one that speaks HTTP/1.1.
        var metrics = MetricsListener.FromConfiguration(builder.Configuration);
        if (metrics is not null)
        {
            builder.WebHost.UseUrls([.. metrics.ServerUrls]);
            builder.Services.AddDfbNetMetrics();
        }

        // gRPC only: HTTP/2 on every other endpoint, also without TLS (h2c), as gRPC clients expect.
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ConfigureEndpointDefaults(listen =>
                listen.Protocols = metrics?.Serves(listen) == true ? HttpProtocols.Http1 : HttpProtocols.Http2);

            // A small stream window: what a client sent and the server has not read stays a few frames, not hundreds, so
            // that a frame's time from the client's write to its answer stays bounded (the server reads eagerly).
            var section = builder.Configuration.GetSection(DfbNetServerOptions.SectionName);
            var defaults = new DfbNetServerOptions();
            var window = section.GetValue(nameof(DfbNetServerOptions.Http2StreamWindowBytes), defaults.Http2StreamWindowBytes);
            var http2 = kestrel.Limits.Http2;
            http2.InitialStreamWindowSize = Math.Clamp(window, 65_535, 16 * 1024 * 1024);
            http2.InitialConnectionWindowSize = Math.Max(http2.InitialConnectionWindowSize, http2.InitialStreamWindowSize);
            http2.MaxStreamsPerConnection = section.GetValue(nameof(DfbNetServerOptions.MaxStreamsPerConnection), defaults.MaxStreamsPerConnection);
        });
        builder.Services.AddDfbNetServer();
        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapDfbNet();
        if (metrics is not null)
        {
            app.MapDfbNetMetrics(metrics.Port);
        }

        return app;
    }
}
