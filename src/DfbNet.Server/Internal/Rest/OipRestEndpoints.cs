using System.Buffers;
using System.Text.Json;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Inference = DfbNet.Protocol.Inference;

namespace DfbNet.Server.Internal.Rest;

/// <summary>
/// The Open Inference Protocol over REST/JSON (KServe v2 HTTP) on the <c>DfbNet:RestUrl</c> listener: health, server
/// and model metadata, readiness, inference, and Triton's repository extension. Each request is turned into the gRPC
/// message and goes through the same resolver, admission, quotas and errors as the gRPC service; a gRPC status becomes
/// an HTTP status with the protocol's <c>{"error": "..."}</c> body.
/// </summary>
internal static class OipRestEndpoints
{
    private const string Json = "application/json";

    public static void Map(IEndpointRouteBuilder endpoints, int port, AuthPlan? auth)
    {
        var health = endpoints.MapGroup("/v2/health");
        health.MapGet("/live", context => Answer(context, _ => Ok(context, json => json.WriteBoolean("live", true))));
        health.MapGet("/ready", context => Answer(context, services =>
        {
            var ready = !services.GetRequiredService<ServerDrain>().IsDraining && services.GetRequiredService<ModelRegistry>().Names.Count > 0;
            context.Response.StatusCode = ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
            return Write(context, output => OipJson.WriteObject(output, json => json.WriteBoolean("ready", ready)));
        }));

        var api = endpoints.MapGroup("/v2");
        api.MapGet("", context => Answer(context, _ => Write(context, output => OipJson.WriteServerMetadata(output, OipViews.ServerMetadata()))));
        foreach (var model in new[] { "/models/{name}", "/models/{name}/versions/{version}" })
        {
            api.MapGet(model, context => Answer(context, services => Metadata(context, services)));
            api.MapGet(model + "/ready", context => Answer(context, services => Ready(context, services)));
            api.MapPost(model + "/infer", context => Answer(context, services => InferAsync(context, services)));
        }

        api.MapPost("/repository/index", context => Answer(context, services => IndexAsync(context, services)));
        api.MapPost("/repository/models/{name}/load", context => Answer(context, services => LoadAsync(context, services)));
        api.MapPost("/repository/models/{name}/unload", context => Answer(context, services => UnloadAsync(context, services)));

        // The listener the request came in on decides (a gRPC port, HTTP/2, could be asked for /v2 too).
        EndpointConventions.OnlyOnPort(health, port);
        EndpointConventions.OnlyOnPort(api, port);
        EndpointConventions.Protect(api, auth, open: false);
        EndpointConventions.Protect(health, auth, auth?.Options.HealthOpen ?? true);
    }

    private static Task Metadata(HttpContext context, IServiceProvider services)
    {
        var models = services.GetRequiredService<ModelRegistry>();
        var engine = OipModels.Find(models, Route(context, "name"), Route(context, "version"));
        return Write(context, output => OipJson.WriteModelMetadata(output, OipViews.ModelMetadata(engine, models.VersionOf(engine.Name) ?? "")));
    }

    private static Task Ready(HttpContext context, IServiceProvider services)
    {
        var engine = OipModels.Find(services.GetRequiredService<ModelRegistry>(), Route(context, "name"), Route(context, "version"));
        return Ok(context, json =>
        {
            json.WriteString("name", engine.Name);
            json.WriteBoolean("ready", true);
        });
    }

    private static async Task InferAsync(HttpContext context, IServiceProvider services)
    {
        var received = services.GetRequiredService<TimeProvider>().GetTimestamp();
        services.GetRequiredService<ServerDrain>().ThrowIfDraining();
        var options = services.GetRequiredService<IOptions<DfbNetServerOptions>>().Value;
        services.GetRequiredService<CallerQuotas>().For(context.User)?.TakeFrameOrThrow();

        var body = await ReadBodyAsync(context, options, context.RequestAborted);
        long? headerLength = context.Request.Headers.TryGetValue(OipJson.HeaderLength, out var header)
            ? long.TryParse(header, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : throw Invalid($"{OipJson.HeaderLength} '{header}' is not a length.")
            : null;
        var (request, binaryOutputs, allBinary) = OipJson.ReadInferRequest(body, headerLength);
        request.ModelName = Route(context, "name");
        request.ModelVersion = Route(context, "version");

        var parsed = OipRequest.Parse(request, services.GetRequiredService<ModelRegistry>(), options, received);
        Inference.ModelInferResponse response;
        using (parsed.Model)
        {
            response = await OipResponses.InferAsync(parsed, context.RequestAborted);
        }

        var output = new ArrayBufferWriter<byte>();
        var jsonLength = OipJson.WriteInferResponse(output, response, binaryOutputs, allBinary);
        context.Response.ContentType = jsonLength is null ? Json : "application/octet-stream";
        if (jsonLength is { } length)
        {
            context.Response.Headers[OipJson.HeaderLength] = length.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        context.Response.ContentLength = output.WrittenCount;
        await context.Response.Body.WriteAsync(output.WrittenMemory, context.RequestAborted);
    }

    private static async Task IndexAsync(HttpContext context, IServiceProvider services)
    {
        var readyOnly = false;
        if (await ReadOptionalJsonAsync(context, services) is { } body && body.RootElement.TryGetProperty("ready", out var ready))
        {
            readyOnly = ready.ValueKind is JsonValueKind.True;
        }

        var index = services.GetRequiredService<ModelRegistry>().Index().Where(e => !readyOnly || e.State == "READY").ToList();
        await Write(context, output =>
        {
            using var json = new Utf8JsonWriter(output);
            json.WriteStartArray();
            foreach (var (name, version, state, reason) in index)
            {
                json.WriteStartObject();
                json.WriteString("name", name);
                json.WriteString("version", version);
                json.WriteString("state", state);
                json.WriteString("reason", reason);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        });
    }

    private static async Task LoadAsync(HttpContext context, IServiceProvider services)
    {
        services.GetRequiredService<RepositoryAccess>().Demand(context.User);
        long? version = null;
        if (await ReadOptionalJsonAsync(context, services) is { } body
            && body.RootElement.TryGetProperty("parameters", out var parameters) && parameters.ValueKind == JsonValueKind.Object
            && parameters.TryGetProperty("version", out var v))
        {
            version = v.ValueKind switch
            {
                JsonValueKind.Number when v.TryGetInt64(out var n) && n > 0 => n,
                JsonValueKind.String when ModelRepositoryFolders.TryParseVersion(v.GetString(), out var n) => n,
                _ => throw Invalid("parameters.version must be a positive integer (a version folder's name)."),
            };
        }

        await services.GetRequiredService<ModelRegistry>().LoadAsync(Route(context, "name"), version, context.RequestAborted);
        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    private static async Task UnloadAsync(HttpContext context, IServiceProvider services)
    {
        services.GetRequiredService<RepositoryAccess>().Demand(context.User);
        await services.GetRequiredService<ModelRegistry>().UnloadAsync(Route(context, "name"), context.RequestAborted);
        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    /// <summary>Runs a handler; a gRPC status (the shared resolver's errors) becomes an HTTP status with an error body.</summary>
    private static async Task Answer(HttpContext context, Func<IServiceProvider, Task> handler)
    {
        try
        {
            await handler(context.RequestServices);
        }
        catch (RpcException ex) when (!context.Response.HasStarted)
        {
            context.Response.StatusCode = HttpStatus(ex.StatusCode);
            await Write(context, output => OipJson.WriteError(output, ex.Status.Detail));
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            // Kestrel's own refusals while reading the body (over the size limit, a client that stopped sending).
            context.Response.StatusCode = ex.StatusCode;
            var message = ex.StatusCode == StatusCodes.Status413PayloadTooLarge && !ex.Message.Contains("MaxMessageBytes", StringComparison.Ordinal)
                ? $"The request body is larger than twice DfbNet:MaxMessageBytes ({2L * context.RequestServices.GetRequiredService<IOptions<DfbNetServerOptions>>().Value.MaxMessageBytes} bytes)."
                : ex.Message;
            await Write(context, output => OipJson.WriteError(output, message));
        }
    }

    /// <summary>The body, at most what <c>DfbNet:MaxMessageBytes</c> allows a request (twice that for JSON's overhead).</summary>
    private static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpContext context, DfbNetServerOptions options, CancellationToken cancellationToken)
    {
        var limit = 2L * options.MaxMessageBytes;
        if (context.Request.ContentLength > limit)
        {
            throw new BadHttpRequestException($"The request body is {context.Request.ContentLength} bytes; at most {limit} are read (twice DfbNet:MaxMessageBytes).", StatusCodes.Status413PayloadTooLarge);
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = limit;
        }

        var body = new ArrayBufferWriter<byte>((int)Math.Clamp(context.Request.ContentLength ?? 4096, 256, limit));
        while (true)
        {
            var memory = body.GetMemory(16 * 1024);
            var read = await context.Request.Body.ReadAsync(memory, cancellationToken);
            if (read == 0)
            {
                return body.WrittenMemory;
            }

            body.Advance(read);
        }
    }

    private static async Task<JsonDocument?> ReadOptionalJsonAsync(HttpContext context, IServiceProvider services)
    {
        var body = await ReadBodyAsync(context, services.GetRequiredService<IOptions<DfbNetServerOptions>>().Value, context.RequestAborted);
        if (body.IsEmpty)
        {
            return null;
        }

        try
        {
            return JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            throw Invalid($"The request body is not JSON: {ex.Message}");
        }
    }

    private static Task Ok(HttpContext context, Action<Utf8JsonWriter> body) => Write(context, output => OipJson.WriteObject(output, body));

    private static async Task Write(HttpContext context, Action<ArrayBufferWriter<byte>> body)
    {
        var output = new ArrayBufferWriter<byte>(256);
        body(output);
        context.Response.ContentType = Json;
        context.Response.ContentLength = output.WrittenCount;
        await context.Response.Body.WriteAsync(output.WrittenMemory, context.RequestAborted);
    }

    private static string Route(HttpContext context, string name) => context.GetRouteValue(name) as string ?? "";

    /// <summary>The HTTP status of a gRPC one, as KServe and Triton servers answer.</summary>
    public static int HttpStatus(StatusCode code) => code switch
    {
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        StatusCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        StatusCode.Cancelled => 499,
        _ => StatusCodes.Status500InternalServerError,
    };

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
