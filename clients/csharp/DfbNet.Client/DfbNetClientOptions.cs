using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using DfbNet.Protocol.V1;

namespace DfbNet.Client;

/// <summary>
/// Settings of a <see cref="DfbNetClient"/>: where the server is, how to authenticate, the defaults of every call
/// (model, mode, preset, budget) and how hard to try again after a transient failure.
/// </summary>
public sealed class DfbNetClientOptions
{
    /// <summary>The server's address. <c>http://</c> speaks HTTP/2 without TLS (h2c, the server's default);
    /// <c>https://</c> uses TLS. Default <c>http://localhost:50051</c>.</summary>
    public Uri Address { get; set; } = new("http://localhost:50051");

    /// <summary>The environment variable read for an API key when <see cref="ApiKey"/> is null.</summary>
    public const string ApiKeyEnvironmentVariable = "DFBNET_API_KEY";

    /// <summary>An API key sent with every call (see <see cref="ApiKeyHeader"/>); null sends the value of
    /// <c>DFBNET_API_KEY</c> when that is set, else none.</summary>
    public string? ApiKey { get; set; }

    /// <summary>The header that carries <see cref="ApiKey"/>: <c>authorization: Bearer ...</c> (default) or <c>x-api-key</c>.</summary>
    public ApiKeyHeader ApiKeyHeader { get; set; } = ApiKeyHeader.AuthorizationBearer;

    /// <summary>TLS only: validates the server's certificate instead of the system's trust store (for example to
    /// trust a self-signed certificate). Null uses the default validation.</summary>
    public RemoteCertificateValidationCallback? ServerCertificateValidation { get; set; }

    /// <summary>TLS only: client certificates offered to the server (mutual TLS).</summary>
    public X509CertificateCollection? ClientCertificates { get; set; }

    /// <summary>TLS only: a PEM file of CA certificates (for example a private CA's <c>ca.pem</c>); the server's
    /// certificate must chain to one of them and name the address's host. Instead of the system's trust store, and of
    /// <see cref="ServerCertificateValidation"/>.</summary>
    public string? CaCertificateFile { get; set; }

    /// <summary>TLS only: a PEM client certificate offered to the server (mutual TLS), with its key in
    /// <see cref="ClientKeyFile"/> or in the same file.</summary>
    public string? ClientCertificateFile { get; set; }

    /// <summary>The PEM private key of <see cref="ClientCertificateFile"/>, when not in that file.</summary>
    public string? ClientKeyFile { get; set; }

    /// <summary>The model of calls that name none; null for the server's default model.</summary>
    public string? Model { get; set; }

    /// <summary>The inference mode of calls that name none; <see cref="InferenceMode.Unspecified"/> for the server's default.</summary>
    public InferenceMode Mode { get; set; } = InferenceMode.Unspecified;

    /// <summary>The threshold preset of calls that name none; null for the model's default preset.</summary>
    public string? Preset { get; set; }

    /// <summary>The per-frame latency budget of calls that give none; null for the server's default.</summary>
    public TimeSpan? Budget { get; set; }

    /// <summary>Classes listed in each prediction's top-k; 0 for the server's default.</summary>
    public int TopK { get; set; }

    /// <summary>Streams: the server's queue policy (<see cref="QueuePolicy.Latest"/> for live cameras: a stale frame is
    /// dropped for the newest); <see cref="QueuePolicy.Unspecified"/> for the server's default.</summary>
    public QueuePolicy QueuePolicy { get; set; } = QueuePolicy.Unspecified;

    /// <summary>Run exit 1 even when a frame's budget cannot be met (a late answer rather than none).</summary>
    public bool AlwaysAnswer { get; set; }

    /// <summary>The deadline of a call (a whole stream, reconnections included) that gives none; null for no deadline.</summary>
    public TimeSpan? Timeout { get; set; }

    /// <summary>Retries of a unary call (Classify, GetModelInfo) after a transient failure; 0 disables them. Default 3.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>Reconnections of a stream after it broke with UNAVAILABLE, counted since the last event received; 0
    /// disables them. Default 5.</summary>
    public int MaxStreamReconnects { get; set; } = 5;

    /// <summary>The first back-off delay; each further attempt doubles it (with jitter), up to <see cref="MaxRetryDelay"/>. Default 100 ms.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest back-off delay. Default 2 s.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Also retry unary calls that failed with RESOURCE_EXHAUSTED. Off by default: a DfbNet server answers a request
    /// larger than its <c>MaxMessageBytes</c> with RESOURCE_EXHAUSTED, and sending the same image again cannot succeed.
    /// Turn it on behind a proxy or gateway that uses the code for rate limiting.
    /// </summary>
    public bool RetryResourceExhausted { get; set; }

    /// <summary>Frames of a stream sent and not yet answered with a final event; the stream waits for an answer
    /// before it takes the next frame from its source. These frames are also those resent after a reconnection. Default
    /// 2, as the CLI: one frame running and one waiting keeps the server busy without frames queueing up behind
    /// each other (with 32, a 100-frame run's round trip grew to about 120 ms). Raise it for throughput over latency.</summary>
    public int MaxFramesInFlight { get; set; } = 2;
}
