using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace DfbNet.Server.Internal;

/// <summary>The addresses the server was told to listen on, read from configuration before Kestrel binds them.</summary>
internal static class ServerAddresses
{
    /// <summary>The gRPC addresses: <c>urls</c>, else <c>http_ports</c> and <c>https_ports</c>, else Kestrel's default.</summary>
    public static IReadOnlyList<string> Configured(IConfiguration configuration)
    {
        if (configuration[WebHostDefaults.ServerUrlsKey] is { Length: > 0 } urls)
        {
            return Split(urls);
        }

        string[] fromPorts =
        [
            .. Split(configuration["http_ports"]).Select(p => $"http://*:{p}"),
            .. Split(configuration["https_ports"]).Select(p => $"https://*:{p}"),
        ];
        return fromPorts.Length > 0 ? fromPorts : ["http://localhost:5000"];
    }

    /// <summary>True for an address only this machine can reach (localhost, 127.0.0.0/8, [::1]).</summary>
    public static bool IsLoopback(string url)
    {
        var host = BindingAddress.Parse(url).Host.Trim('[', ']');
        return string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
            || (System.Net.IPAddress.TryParse(host, out var ip) && System.Net.IPAddress.IsLoopback(ip));
    }

    public static bool IsHttps(string url) => string.Equals(BindingAddress.Parse(url).Scheme, "https", StringComparison.OrdinalIgnoreCase);

    private static string[] Split(string? list) =>
        string.IsNullOrWhiteSpace(list) ? [] : list.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
