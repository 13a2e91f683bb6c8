using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace DfbNet.Server;

/// <summary>
/// <c>dfbnet-server probe [ADDRESS]</c>: asks a running server's grpc.health.v1 whether it is SERVING and exits 0 if so,
/// 1 if not (or unreachable), with one line. For container HEALTHCHECKs and exec probes: the image needs no other
/// binary. A local probe reads only the health status, so it does not check an https server's certificate.
/// </summary>
public static class HealthProbe
{
    public const string Command = "probe";

    public static async Task<int> RunAsync(string[] args)
    {
        var address = args.Length > 0 ? args[0] : Environment.GetEnvironmentVariable("DFBNET_PROBE_ADDRESS") ?? "http://127.0.0.1:50051";
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            Console.Error.WriteLine($"dfbnet-server probe: '{address}' is not an http:// or https:// address.");
            return 2;
        }

        using var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(3) };
        // A probe of this machine's own server reads only its health: its certificate (for the names clients use) need not
        // match 127.0.0.1. Any other address is checked as usual.
        handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, errors) => errors == System.Net.Security.SslPolicyErrors.None || uri.IsLoopback;
        using var channel = GrpcChannel.ForAddress(uri, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = false });
        try
        {
            var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
            Console.WriteLine($"{uri}: {reply.Status}");
            return reply.Status == HealthCheckResponse.Types.ServingStatus.Serving ? 0 : 1;
        }
        catch (RpcException ex)
        {
            Console.Error.WriteLine($"dfbnet-server probe: {uri}: {ex.StatusCode}: {ex.Status.Detail}");
            return 1;
        }
    }
}
