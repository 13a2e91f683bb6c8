using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace DfbNet.Server.Internal;

/// <summary>
/// The Prometheus listener named by <c>DfbNet:MetricsUrl</c>: its port, and the server's address list with it added to
/// the gRPC addresses (<see cref="ServerAddresses.Configured"/>), since setting addresses replaces them.
/// </summary>
internal sealed class MetricsListener
{
    private const string Setting = DfbNetServerOptions.SectionName + ":" + nameof(DfbNetServerOptions.MetricsUrl);

    private MetricsListener(int port, IReadOnlyList<string> serverUrls)
    {
        Port = port;
        ServerUrls = serverUrls;
    }

    public int Port { get; }

    public IReadOnlyList<string> ServerUrls { get; }

    /// <summary>Null when no metrics URL is set; throws, naming the setting, when it is not an http(s) address with a port.</summary>
    public static MetricsListener? FromConfiguration(IConfiguration configuration)
    {
        var url = configuration[Setting];
        if (string.IsNullOrWhiteSpace(url))
        {
            return null;
        }

        BindingAddress address;
        try
        {
            address = BindingAddress.Parse(url);
        }
        catch (FormatException ex)
        {
            throw new InvalidOperationException($"{Setting} '{url}' is not an address: {ex.Message}", ex);
        }

        if (address.Scheme is not ("http" or "https") || address.Port <= 0)
        {
            throw new InvalidOperationException($"{Setting} '{url}' must be an http address with an explicit port, for example http://*:9464.");
        }

        var grpc = ServerAddresses.Configured(configuration);
        if (grpc.Any(u => BindingAddress.Parse(u).Port == address.Port))
        {
            throw new InvalidOperationException($"{Setting} '{url}' uses the port of a gRPC address ({string.Join(";", grpc)}); the scrape endpoint needs a port of its own.");
        }

        return new MetricsListener(address.Port, [.. grpc, url]);
    }

    public bool Serves(ListenOptions listen) => listen.IPEndPoint?.Port == Port;
}
