using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace DfbNet.Cli.Tests;

/// <summary>
/// The smallest RTSP server a camera client accepts, on loopback, for testing <c>dfbnet stream rtsp://...</c> with no
/// camera and no RTSP server package: one client, RTP over the RTSP connection (RFC 2326 section 10.12, what the CLI
/// asks for with <c>-rtsp_transport tcp</c>), and an MPEG transport stream as the RTP payload (RFC 2250, payload type
/// 33), which ffmpeg's own lavfi test source encodes in real time. It answers OPTIONS, DESCRIBE, SETUP, PLAY,
/// GET_PARAMETER and TEARDOWN; the stream ends when the encoder does, or when the client leaves.
/// </summary>
public sealed class LoopbackRtspServer : IAsyncDisposable
{
    private const int TsPacket = 188;
    private const int TsPacketsPerRtp = 7;

    private readonly TcpListener _listener;
    private readonly string _encoderArguments;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;

    /// <param name="encoderArguments">ffmpeg's arguments up to its output, for example
    /// <c>-re -f lavfi -i testsrc=size=64x64:rate=25 -t 3 -c:v mpeg2video</c>.</param>
    public LoopbackRtspServer(string encoderArguments)
    {
        _encoderArguments = encoderArguments;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Url = $"rtsp://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/test";
        _serving = ServeAsync(_stop.Token);
    }

    /// <summary>The stream's URL.</summary>
    public string Url { get; }

    /// <summary>RTP packets sent to the client so far.</summary>
    public int PacketsSent => Volatile.Read(ref _packetsSent);

    private int _packetsSent;

    /// <summary>The methods the client sent, in order.</summary>
    public IReadOnlyList<string> Methods
    {
        get
        {
            lock (_methods)
            {
                return [.. _methods];
            }
        }
    }

    private readonly List<string> _methods = [];

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _serving;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
            // Stopped mid-stream.
        }

        _stop.Dispose();
    }

    private async Task ServeAsync(CancellationToken cancellationToken)
    {
        using var client = await _listener.AcceptTcpClientAsync(cancellationToken);
        client.NoDelay = true;
        var stream = client.GetStream();
        var writeLock = new SemaphoreSlim(1, 1);
        Task? playing = null;
        using var playStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            while (await ReadRequestAsync(stream, cancellationToken) is { } request)
            {
                lock (_methods)
                {
                    _methods.Add(request.Method);
                }

                var headers = request.Method switch
                {
                    "OPTIONS" => "Public: OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER, TEARDOWN\r\n",
                    "DESCRIBE" => $"Content-Base: {Url}/\r\nContent-Type: application/sdp\r\nContent-Length: {Sdp.Length}\r\n",
                    "SETUP" => $"Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: 1;timeout=60\r\n",
                    "PLAY" => "Session: 1\r\nRange: npt=0.000-\r\n",
                    "GET_PARAMETER" or "TEARDOWN" => "Session: 1\r\n",
                    _ => null,
                };
                var status = headers is null ? "405 Method Not Allowed" : "200 OK";
                var body = request.Method == "DESCRIBE" ? Sdp : "";
                await WriteAsync(stream, writeLock, Encoding.ASCII.GetBytes($"RTSP/1.0 {status}\r\nCSeq: {request.CSeq}\r\n{headers}\r\n{body}"), cancellationToken);
                if (request.Method == "PLAY" && playing is null)
                {
                    playing = PlayAsync(stream, writeLock, playStop.Token);
                }
                else if (request.Method == "TEARDOWN")
                {
                    break;
                }
            }
        }
        finally
        {
            await playStop.CancelAsync();
            if (playing is not null)
            {
                try
                {
                    await playing;
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
                {
                    // The client left.
                }
            }
        }
    }

    /// <summary>One MPEG transport stream over RTP (ASCII, so its length in characters is its length in bytes).</summary>
    private const string Sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=DfbNet test source\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=control:*\r\nm=video 0 RTP/AVP 33\r\na=rtpmap:33 MP2T/90000\r\na=control:track0\r\n";

    /// <summary>Encodes the test source and sends it as RTP packets on interleaved channel 0 until it ends.</summary>
    private async Task PlayAsync(NetworkStream stream, SemaphoreSlim writeLock, CancellationToken cancellationToken)
    {
        var encoder = new ProcessStartInfo("ffmpeg") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in $"-hide_banner -loglevel error {_encoderArguments} -f mpegts -".Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            encoder.ArgumentList.Add(argument);
        }

        using var ffmpeg = Process.Start(encoder)!;
        _ = ffmpeg.StandardError.ReadToEndAsync(cancellationToken);
        var clock = Stopwatch.StartNew();
        var payload = new byte[TsPacket * TsPacketsPerRtp];
        var packet = new byte[4 + 12 + payload.Length];
        ushort sequence = 0;
        try
        {
            while (true)
            {
                var read = await ffmpeg.StandardOutput.BaseStream.ReadAtLeastAsync(payload, TsPacket, throwOnEndOfStream: false, cancellationToken);
                read -= read % TsPacket;
                if (read == 0)
                {
                    break;
                }

                var rtpLength = 12 + read;
                packet[0] = (byte)'$';
                packet[1] = 0;
                BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)rtpLength);
                packet[4] = 0x80; // version 2
                packet[5] = 33; // MP2T
                BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(6), sequence++);
                BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(8), (uint)(clock.Elapsed.TotalSeconds * 90_000));
                BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(12), 0x0DFB0001);
                payload.AsSpan(0, read).CopyTo(packet.AsSpan(16));
                await WriteAsync(stream, writeLock, packet.AsMemory(0, 4 + rtpLength), cancellationToken);
                Interlocked.Increment(ref _packetsSent);
            }
        }
        finally
        {
            if (!ffmpeg.HasExited)
            {
                ffmpeg.Kill(entireProcessTree: true);
            }
        }

        // The stream is over: closing the connection tells the client so.
        stream.Socket.Shutdown(SocketShutdown.Send);
    }

    private static async Task WriteAsync(NetworkStream stream, SemaphoreSlim writeLock, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await writeLock.WaitAsync(cancellationToken);
        try
        {
            await stream.WriteAsync(bytes, cancellationToken);
        }
        finally
        {
            writeLock.Release();
        }
    }

    /// <summary>The client's next request, skipping the RTCP reports it interleaves ('$' frames); null at its end.</summary>
    private static async Task<(string Method, string CSeq)?> ReadRequestAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var one = new byte[1];
        var line = new StringBuilder();
        string? method = null;
        var cseq = "0";
        var contentLength = 0;
        while (true)
        {
            if (await stream.ReadAsync(one, cancellationToken) == 0)
            {
                return null;
            }

            if (line.Length == 0 && method is null && one[0] == '$')
            {
                var header = new byte[3];
                await stream.ReadExactlyAsync(header, cancellationToken);
                var skip = new byte[BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(1))];
                await stream.ReadExactlyAsync(skip, cancellationToken);
                continue;
            }

            if (one[0] == '\r')
            {
                continue;
            }

            if (one[0] != '\n')
            {
                line.Append((char)one[0]);
                continue;
            }

            var text = line.ToString();
            line.Clear();
            if (text.Length == 0)
            {
                if (method is null)
                {
                    continue;
                }

                if (contentLength > 0)
                {
                    await stream.ReadExactlyAsync(new byte[contentLength], cancellationToken);
                }

                return (method, cseq);
            }

            if (method is null)
            {
                method = text.Split(' ')[0];
            }
            else if (text.StartsWith("CSeq:", StringComparison.OrdinalIgnoreCase))
            {
                cseq = text[5..].Trim();
            }
            else if (text.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                contentLength = int.Parse(text[15..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
    }
}
