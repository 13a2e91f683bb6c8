namespace DfbNet.Server;

/// <summary>
/// Who may call the server, bound from <c>DfbNet:Auth</c>. Callers present an API key (<c>authorization: Bearer KEY</c> or
/// <c>x-api-key: KEY</c>) or a JWT (<c>authorization: Bearer TOKEN</c>); a call without valid credentials ends
/// UNAUTHENTICATED, one whose token lacks <see cref="JwtAuthOptions.RequiredScope"/> PERMISSION_DENIED.
/// </summary>
public sealed class DfbNetAuthOptions
{
    public const string SectionName = DfbNetServerOptions.SectionName + ":Auth";

    /// <summary>Require credentials. Unset (the default): required unless every gRPC address is a loopback one
    /// (<c>localhost</c>, <c>127.0.0.1</c>, <c>[::1]</c>), or whenever keys or a JWKS file are configured. Required with no
    /// credentials configured stops start-up; <c>false</c> serves anyone.</summary>
    public bool? Enabled { get; set; }

    /// <summary>API keys by caller name (the name is what logs and metrics show; the key never is).</summary>
    public Dictionary<string, string> ApiKeys { get; set; } = [];

    /// <summary>A file of API keys, one per line: <c>name:key</c>, or a bare key (named <c>key-LINE</c>). Blank lines
    /// and lines starting with <c>#</c> are skipped. Read at start-up.</summary>
    public string? ApiKeyFile { get; set; }

    /// <summary>JWT bearer tokens, validated offline against a JWKS file.</summary>
    public JwtAuthOptions Jwt { get; set; } = new();

    /// <summary>Quotas by caller name (an API key's name, a token's <c>sub</c>); <c>*</c> applies to every caller without
    /// an entry of its own. A frame or stream beyond its caller's quota is refused with RESOURCE_EXHAUSTED.</summary>
    public Dictionary<string, CallerQuotaOptions> Quotas { get; set; } = [];

    /// <summary>Callers (API key names, token subjects) that may load and unload models (the repository API); tokens
    /// with <see cref="JwtAuthOptions.AdminScope"/> may too. Everyone else is refused with PERMISSION_DENIED.</summary>
    public List<string> Admins { get; set; } = [];

    /// <summary>grpc.health.v1 answers without credentials (Kubernetes probes send none). Default true.</summary>
    public bool HealthOpen { get; set; } = true;

    /// <summary>Server reflection answers without credentials. Default false.</summary>
    public bool ReflectionOpen { get; set; }

    /// <summary><c>GET /metrics</c> answers without credentials. Default false: Prometheus sends the key as
    /// <c>authorization: Bearer KEY</c>.</summary>
    public bool MetricsOpen { get; set; }
}

/// <summary>JWT validation (<c>DfbNet:Auth:Jwt</c>); on when <see cref="JwksFile"/> is set.</summary>
public sealed class JwtAuthOptions
{
    /// <summary>A JSON Web Key Set file holding the keys tokens are signed with.</summary>
    public string? JwksFile { get; set; }

    /// <summary>The <c>iss</c> every token must carry; required with <see cref="JwksFile"/>.</summary>
    public string? Issuer { get; set; }

    /// <summary>The <c>aud</c> every token must carry; required with <see cref="JwksFile"/>.</summary>
    public string? Audience { get; set; }

    /// <summary>A scope (in the token's space-separated <c>scope</c> or <c>scp</c> claim) without which a valid token is
    /// refused with PERMISSION_DENIED; empty for none.</summary>
    public string? RequiredScope { get; set; }

    /// <summary>The scope that lets a token load and unload models. Default <c>dfbnet.admin</c>.</summary>
    public string AdminScope { get; set; } = "dfbnet.admin";

    /// <summary>Clock difference tolerated on <c>exp</c> and <c>nbf</c>, in seconds. Default 60.</summary>
    public int ClockSkewSeconds { get; set; } = 60;
}

/// <summary>One caller's limits; 0 for none.</summary>
public sealed class CallerQuotaOptions
{
    /// <summary>Frames per second over all of the caller's calls (a burst of one second's worth is allowed).</summary>
    public double FramesPerSecond { get; set; }

    /// <summary>Streams of the caller open at once.</summary>
    public int MaxStreams { get; set; }
}
