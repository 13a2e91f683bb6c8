using System.Net;
using System.Net.Sockets;

namespace DfbNet.Testing;

/// <summary>Loopback ports for test servers and for tests of an unreachable server.</summary>
internal static class LoopbackPort
{
    /// <summary>A port that was free a moment ago, with nothing listening on it now.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
