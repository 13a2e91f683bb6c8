using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace DfbNet.Server.Internal;

/// <summary>
/// The HTTP/1.1 listeners beside the gRPC ones (which speak HTTP/2 only): the Prometheus scrape (<c>DfbNet:MetricsUrl</c>)
/// and the Open Inference Protocol's REST API (<c>DfbNet:RestUrl</c>), each on a port of its own, as Triton serves
/// HTTP, gRPC and metrics. Its address list adds them to the gRPC addresses (<see cref="ServerAddresses.Configured"/>),
/// since setting addresses replaces them.
/// </summary>
internal sealed class Http1Listeners
{
    private const string MetricsSetting = DfbNetServerOptions.SectionName + ":" + nameof(DfbNetServerOptions.MetricsUrl);
    private const string RestSetting = DfbNetServerOptions.SectionName + ":" + nameof(DfbNetServerOptions.RestUrl);

    private readonly string? _metricsUrl;
    private readonly string? _restUrl;

    private Http1Listeners((string Url, int Port)? metrics, (string Url, int Port)? rest, IReadOnlyList<string> serverUrls)
    {
        (_metricsUrl, MetricsPort) = (metrics?.Url, metrics?.Port);
        (_restUrl, RestPort) = (rest?.Url, rest?.Port);
        ServerUrls = serverUrls;
    }

    /// <summary>The scrape's port; null without <c>DfbNet:MetricsUrl</c>.</summary>
    public int? MetricsPort { get; }

    /// <summary>The REST API's port; null without <c>DfbNet:RestUrl</c>.</summary>
    public int? RestPort { get; }

    /// <summary>Every address to listen on (gRPC first), or empty when there is no HTTP/1.1 listener.</summary>
    public IReadOnlyList<string> ServerUrls { get; }

    /// <exception cref="InvalidOperationException">Naming the setting: not an http(s) address with a port, or a port
    /// another listener has.</exception>
    public static Http1Listeners FromConfiguration(IConfiguration configuration)
    {
        var grpc = ServerAddresses.Configured(configuration);
        var metrics = Parse(configuration, MetricsSetting, "http://*:9464");
        var rest = Parse(configuration, RestSetting, "http://*:8000");
        var taken = grpc.Select(u => (Port: BindingAddress.Parse(u).Port, What: $"a gRPC address ({string.Join(";", grpc)})")).ToList();
        foreach (var (setting, listener) in new[] { (MetricsSetting, metrics), (RestSetting, rest) })
        {
            if (listener is not { } l)
            {
                continue;
            }

            if (taken.FirstOrDefault(t => t.Port == l.Port) is { What: { } other })
            {
                throw new InvalidOperationException($"{setting} '{l.Url}' uses the port of {other}; it needs a port of its own.");
            }

            taken.Add((l.Port, setting));
        }

        var extra = new[] { metrics, rest }.OfType<(string Url, int Port)>().Select(l => l.Url).ToList();
        return new Http1Listeners(metrics, rest, extra.Count == 0 ? [] : [.. grpc, .. extra]);
    }

    /// <summary>The HTTP/1.1 addresses: the REST API's, and the scrape's when <paramref name="metrics"/>.</summary>
    public IEnumerable<string> Urls(bool metrics) => new[] { _restUrl, metrics ? _metricsUrl : null }.OfType<string>();

    /// <summary>True for an endpoint that speaks HTTP/1.1 (scrape, REST); the others speak HTTP/2 (gRPC).</summary>
    public bool Serves(ListenOptions listen) => listen.IPEndPoint?.Port is { } port && (port == MetricsPort || port == RestPort);

    private static (string Url, int Port)? Parse(IConfiguration configuration, string setting, string example)
    {
        var url = configuration[setting];
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
            throw new InvalidOperationException($"{setting} '{url}' is not an address: {ex.Message}", ex);
        }

        return address.Scheme is "http" or "https" && address.Port > 0
            ? (url, address.Port)
            : throw new InvalidOperationException($"{setting} '{url}' must be an http address with an explicit port, for example {example}.");
    }
}
