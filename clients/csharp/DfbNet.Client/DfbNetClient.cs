using System.Runtime.CompilerServices;
using DfbNet.Client.Internal;
using DfbNet.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace DfbNet.Client;

/// <summary>
/// A client of a DfbNet server: classify one image (<see cref="ClassifyAsync"/>), stream frames and receive every exit
/// event as it fires (<see cref="StreamAsync"/>), describe a model (<see cref="GetModelInfoAsync"/>). Thread-safe; make
/// one per server and share it, as with <see cref="GrpcChannel"/>.
/// </summary>
/// <remarks>
/// Unary calls are retried on UNAVAILABLE (see <see cref="DfbNetClientOptions.MaxRetries"/>); a stream that breaks with
/// UNAVAILABLE reconnects and resends the frames that have no final event yet (see
/// <see cref="DfbNetClientOptions.MaxStreamReconnects"/>). Other failures surface as <see cref="RpcException"/>s with the
/// server's status; a cancelled call as an <see cref="OperationCanceledException"/>.
/// </remarks>
public sealed class DfbNetClient : IDfbNetClient, IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly bool _ownsChannel;
    private readonly Protocol.V1.DfbNet.DfbNetClient _client;
    private readonly DfbNetClientOptions _options;
    private readonly Metadata _headers;
    private readonly Backoff _backoff;
    private readonly UnaryRetry _retry;
    private readonly ILogger _logger;

    /// <summary>Connects to <see cref="DfbNetClientOptions.Address"/> over a channel that the client owns and disposes.</summary>
    /// <param name="options">Address, credentials, call defaults and retry settings.</param>
    /// <param name="loggerFactory">Logs retries and reconnections; null logs nothing.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public DfbNetClient(DfbNetClientOptions options, ILoggerFactory? loggerFactory = null)
        : this(CreateChannel(options, loggerFactory), ownsChannel: true, options, loggerFactory)
    {
    }

    /// <summary>Uses an existing channel, which the client does not dispose. <see cref="DfbNetClientOptions.Address"/>
    /// and the TLS settings are ignored; the channel's apply.</summary>
    /// <param name="channel">A channel to a DfbNet server.</param>
    /// <param name="options">Credentials, call defaults and retry settings; the defaults when null.</param>
    /// <param name="loggerFactory">Logs retries and reconnections; null logs nothing.</param>
    public DfbNetClient(GrpcChannel channel, DfbNetClientOptions? options = null, ILoggerFactory? loggerFactory = null)
        : this(channel, ownsChannel: false, Validate(options ?? new DfbNetClientOptions()), loggerFactory)
    {
    }

    private DfbNetClient(GrpcChannel channel, bool ownsChannel, DfbNetClientOptions options, ILoggerFactory? loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(channel);
        _channel = channel;
        _ownsChannel = ownsChannel;
        _options = options;

        // Read once: the environment's key, like the options, is the client's from its creation on.
        _headers = CreateCallHeaders(options);
        _client = new Protocol.V1.DfbNet.DfbNetClient(channel);
        _logger = (ILogger?)loggerFactory?.CreateLogger<DfbNetClient>() ?? NullLogger.Instance;
        _backoff = new Backoff(options);
        _retry = new UnaryRetry(options, _backoff, _logger);
    }

    /// <summary>The server's address.</summary>
    public Uri Address => new(_channel.Target.Contains("://", StringComparison.Ordinal) ? _channel.Target : "http://" + _channel.Target);

    /// <summary>
    /// Classifies one image. Returns the answer (<see cref="ClassifyResult.Answer"/>) and every exit event computed for it
    /// (<see cref="ClassifyResult.Events"/>, in order; the last one is the answer), in SDK types; the wire's
    /// <see cref="ClassifyResponse"/> is <see cref="ClassifyResult.Wire"/>.
    /// </summary>
    /// <param name="image">The image.</param>
    /// <param name="options">Overrides of the client's defaults for this call.</param>
    /// <param name="cancellationToken">Cancels the call, its retries included.</param>
    /// <exception cref="RpcException">INVALID_ARGUMENT for a corrupt or unsupported image or a bad option, NOT_FOUND for an
    /// unknown model, DEADLINE_EXCEEDED past the timeout, UNAVAILABLE when the server stays unreachable.</exception>
    public async Task<ClassifyResult> ClassifyAsync(ImageInput image, RequestOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        var request = new ClassifyRequest { Image = image.ToProto(), Options = BuildOptions(options) };
        var headers = BuildHeaders(options);
        var deadline = Deadline(options);
        var response = await RunUnaryAsync(
            "Classify",
            deadline,
            (Client: _client, Request: request, Headers: headers, Deadline: deadline),
            static (s, token) => s.Client.ClassifyAsync(s.Request, new CallOptions(s.Headers, s.Deadline, token)).ResponseAsync,
            cancellationToken).ConfigureAwait(false);
        return ClassifyResult.FromWire(response);
    }

    /// <summary>Describes a model: classes, exits, presets, input size, execution provider and latency estimates.</summary>
    /// <param name="model">The model; null for the client's default (or the server's).</param>
    /// <param name="cancellationToken">Cancels the call, its retries included.</param>
    /// <exception cref="RpcException">NOT_FOUND for an unknown model; UNAVAILABLE when the server stays unreachable.</exception>
    public Task<ModelInfo> GetModelInfoAsync(string? model = null, CancellationToken cancellationToken = default)
    {
        var request = new GetModelInfoRequest { Model = model ?? _options.Model ?? "" };
        var headers = BuildHeaders(null);
        var deadline = Deadline(null);
        return RunUnaryAsync(
            "GetModelInfo",
            deadline,
            (Client: _client, Request: request, Headers: headers, Deadline: deadline),
            static (s, token) => s.Client.GetModelInfoAsync(s.Request, new CallOptions(s.Headers, s.Deadline, token)).ResponseAsync,
            cancellationToken);
    }

    /// <summary>
    /// Streams frames to the server and yields every exit event the moment it arrives, with the frame it belongs to.
    /// Each frame's events come in exit order and end with one final event. Frames are taken from
    /// <paramref name="frames"/> while fewer than <see cref="DfbNetClientOptions.MaxFramesInFlight"/> are unanswered; the
    /// stream ends when the source has ended and every frame has its final event.
    /// </summary>
    /// <remarks>When the connection breaks with UNAVAILABLE (the server restarted, the network dropped), the client waits,
    /// reconnects and resends the frames without a final event. Their earlier non-final events may then repeat, marked
    /// <see cref="StreamEvent.Resent"/> on the repeat; the final event never repeats. A frame that fails on the server
    /// ends with one ERROR event (final) and the stream goes on.</remarks>
    /// <param name="frames">The frames; consumed once.</param>
    /// <param name="options">Overrides of the client's defaults for the whole stream.</param>
    /// <param name="cancellationToken">Ends the stream: the call is cancelled and the enumeration throws <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="RpcException">The stream failed for good: a non-transient status (for example DEADLINE_EXCEEDED,
    /// NOT_FOUND for an unknown model) or more breaks in a row than <see cref="DfbNetClientOptions.MaxStreamReconnects"/>.</exception>
    /// <exception cref="ArgumentException">Two frames in flight have the same id.</exception>
    public async IAsyncEnumerable<StreamEvent> StreamAsync(IAsyncEnumerable<InputFrame> frames, RequestOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(frames);
        var stream = new ReconnectingStream(_client, BuildOptions(options), BuildHeaders(options), Deadline(options), _options, _backoff, _logger);
        await using var events = stream.RunAsync(frames, cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            StreamEvent next;
            try
            {
                if (!await events.MoveNextAsync())
                {
                    yield break;
                }

                next = events.Current;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("The stream was cancelled.", ex, cancellationToken);
            }

            yield return next;
        }
    }

    /// <summary>Disposes the channel when the client created it.</summary>
    public void Dispose()
    {
        if (_ownsChannel)
        {
            _channel.Dispose();
        }
    }

    private async Task<TResult> RunUnaryAsync<TResult, TState>(string method, DateTime? deadline, TState state, Func<TState, CancellationToken, Task<TResult>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await _retry.ExecuteAsync(method, deadline, state, call, cancellationToken);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException($"{method} was cancelled.", ex, cancellationToken);
        }
    }

    private DateTime? Deadline(RequestOptions? options) =>
        (options?.Timeout ?? _options.Timeout) is { } timeout ? DateTime.UtcNow + timeout : null;

    private StreamOptions BuildOptions(RequestOptions? options)
    {
        var result = new StreamOptions
        {
            Model = options?.Model ?? _options.Model ?? "",
            Mode = options?.Mode ?? _options.Mode,
            TopK = (uint)Math.Max(0, options?.TopK ?? _options.TopK),
            QueuePolicy = options?.QueuePolicy ?? _options.QueuePolicy,
            AlwaysAnswer = options?.AlwaysAnswer ?? _options.AlwaysAnswer,
        };
        if (options?.Thresholds is { } thresholds)
        {
            var selection = new Thresholds();
            selection.Values.AddRange(thresholds);
            result.Thresholds = new ThresholdSelection { Explicit = selection };
        }
        else if ((options?.Preset ?? _options.Preset) is { } preset)
        {
            result.Thresholds = new ThresholdSelection { Preset = preset };
        }

        if ((options?.Budget ?? _options.Budget) is { } budget)
        {
            if (budget < TimeSpan.Zero)
            {
                throw new ArgumentException($"Budget {budget} is negative.", nameof(options));
            }

            result.Budget = Duration.FromTimeSpan(budget);
        }

        return result;
    }

    /// <summary>
    /// The headers every call of a client with <paramref name="options"/> carries: its API key
    /// (<see cref="DfbNetClientOptions.ApiKey"/>, or <c>DFBNET_API_KEY</c>) in <see cref="DfbNetClientOptions.ApiKeyHeader"/>.
    /// For calls over <see cref="CreateChannel"/> with the generated clients.
    /// </summary>
    public static Metadata CreateCallHeaders(DfbNetClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var headers = new Metadata();
        if ((options.ApiKey ?? (Environment.GetEnvironmentVariable(DfbNetClientOptions.ApiKeyEnvironmentVariable) is { Length: > 0 } env ? env : null)) is { } key)
        {
            if (options.ApiKeyHeader == ApiKeyHeader.XApiKey)
            {
                headers.Add("x-api-key", key);
            }
            else
            {
                headers.Add("authorization", "Bearer " + key);
            }
        }

        return headers;
    }

    private Metadata BuildHeaders(RequestOptions? options)
    {
        var headers = new Metadata();
        foreach (var entry in _headers)
        {
            headers.Add(entry);
        }

        if (options?.Headers is { } extra)
        {
            foreach (var entry in extra)
            {
                headers.Add(entry);
            }
        }

        return headers;
    }

    private static DfbNetClientOptions Validate(DfbNetClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var result = new DfbNetClientOptionsValidator().Validate(null, options);
        if (result.Failed)
        {
            throw new ArgumentException(string.Join(" ", result.Failures!), nameof(options));
        }

        return options;
    }

    /// <summary>
    /// A channel to the server of <paramref name="options"/> with its TLS settings (trusted CAs, client certificate):
    /// the one the client makes for itself, for code that calls the generated gRPC clients (the Open Inference Protocol,
    /// health) on the same terms. API keys are per call: send them in the call's headers.
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid, or a certificate file cannot be loaded; the message names it.</exception>
    public static GrpcChannel CreateChannel(DfbNetClientOptions options, ILoggerFactory? loggerFactory = null)
    {
        Validate(options);
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        try
        {
            TlsSettings.Apply(options, handler.SslOptions);
        }
        catch
        {
            handler.Dispose();
            throw;
        }

        return GrpcChannel.ForAddress(options.Address, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            LoggerFactory = loggerFactory,
            MaxReceiveMessageSize = 64 * 1024 * 1024,
        });
    }
}
