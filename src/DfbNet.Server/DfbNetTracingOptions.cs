namespace DfbNet.Server;

/// <summary>OpenTelemetry traces, bound from <c>DfbNet:Tracing</c>; off by default.</summary>
public sealed class DfbNetTracingOptions
{
    public const string SectionName = DfbNetServerOptions.SectionName + ":Tracing";

    /// <summary>Record spans: one per call (ASP.NET Core's, continuing the W3C trace context a client sent), one per
    /// frame, one per stage run with its batch. On when <see cref="OtlpEndpoint"/> is set.</summary>
    public bool? Enabled { get; set; }

    /// <summary>An OTLP collector, for example <c>http://otel-collector:4317</c> (gRPC) or
    /// <c>http://otel-collector:4318/v1/traces</c> with <see cref="OtlpProtocol"/> <c>http</c>.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary><c>grpc</c> (default) or <c>http</c> (OTLP over HTTP with protobuf).</summary>
    public string OtlpProtocol { get; set; } = "grpc";

    /// <summary>Share of traces recorded when the client sent no sampling decision (0 to 1). Default 1.</summary>
    public double SampleRatio { get; set; } = 1;
}
