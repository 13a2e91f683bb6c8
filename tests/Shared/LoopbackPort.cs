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

    /// <summary>
    /// Distinct free ports for one server's several listeners. Each listener stays open until all are taken,
    /// because the kernel may hand a port just closed to the next bind (two calls of <see cref="Free()"/> can return the same one).
    /// </summary>
    public static int[] Free(int count)
    {
        var listeners = new TcpListener[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                listeners[i] = new TcpListener(IPAddress.Loopback, 0);
                listeners[i].Start();
            }

            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener?.Dispose();
            }
        }
    }
}
