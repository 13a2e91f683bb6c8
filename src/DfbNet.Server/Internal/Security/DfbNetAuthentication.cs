using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.IdentityModel.Tokens;

namespace DfbNet.Server.Internal;

/// <summary>What <c>DfbNet:Auth</c> decided at start-up: whether calls need credentials, and which.</summary>
internal sealed record AuthPlan(bool Enabled, DfbNetAuthOptions Options, ApiKeyStore Keys, IReadOnlyList<SecurityKey> JwtKeys, string Why)
{
    public bool Jwt => JwtKeys.Count > 0;
}

/// <summary>
/// Authentication with ASP.NET Core's handlers: an API-key scheme and the JWT bearer scheme behind one policy scheme
/// that picks by the credential a call carries, and one authorisation policy for every protected endpoint.
/// </summary>
internal static class DfbNetAuthentication
{
    public const string SchemeName = "DfbNet";
    public const string PolicyName = "dfbnet";
    public const string NameClaim = "sub";
    public const string ApiKeyHeaderName = "x-api-key";

    /// <summary>Reads and checks <c>DfbNet:Auth</c> against the addresses the server will listen on.</summary>
    /// <exception cref="InvalidOperationException">A one-line message naming the setting (start-up prints it, exit 2).</exception>
    public static AuthPlan Plan(IConfiguration configuration, IReadOnlyList<string> grpcAddresses)
    {
        var options = ConfigurationSections.Bind<DfbNetAuthOptions>(configuration, DfbNetAuthOptions.SectionName);
        var keys = ApiKeyStore.Load(options);
        var jwtKeys = JwtKeys(options.Jwt);
        foreach (var (name, quota) in options.Quotas)
        {
            if (quota.FramesPerSecond < 0 || quota.MaxStreams < 0 || double.IsNaN(quota.FramesPerSecond))
            {
                throw new InvalidOperationException($"{DfbNetAuthOptions.SectionName}:Quotas:{name}: FramesPerSecond and MaxStreams must be 0 (no limit) or more.");
            }
        }

        var credentials = keys.Count > 0 || jwtKeys.Count > 0;
        var exposed = grpcAddresses.FirstOrDefault(a => !ServerAddresses.IsLoopback(a));
        var (enabled, why) = options.Enabled switch
        {
            false => (false, $"{DfbNetAuthOptions.SectionName}:Enabled is false"),
            true => (true, $"{DfbNetAuthOptions.SectionName}:Enabled is true"),
            null when credentials => (true, "credentials are configured"),
            null when exposed is not null => (true, $"the server listens on {exposed}, not only on loopback"),
            null => (false, "the server listens on loopback only"),
        };

        if (enabled && !credentials)
        {
            throw new InvalidOperationException(
                $"{DfbNetAuthOptions.SectionName} requires credentials ({why}) but none are configured: set {DfbNetAuthOptions.SectionName}:ApiKeyFile, " +
                $"{DfbNetAuthOptions.SectionName}:ApiKeys:NAME or {DfbNetAuthOptions.SectionName}:Jwt:JwksFile, or {DfbNetAuthOptions.SectionName}:Enabled=false to serve anyone.");
        }

        return new AuthPlan(enabled, options, keys, jwtKeys, why);
    }

    /// <summary>Registers the plan, and with authentication on, the schemes, the policy and the gRPC result handler.</summary>
    public static IServiceCollection AddDfbNetAuthentication(this IServiceCollection services, AuthPlan plan)
    {
        services.AddSingleton(plan);
        if (!plan.Enabled)
        {
            return services;
        }

        services.AddSingleton(plan.Keys);
        var jwt = plan.Jwt;
        var builder = services.AddAuthentication(SchemeName)
            .AddPolicyScheme(SchemeName, "DfbNet API key or JWT", scheme => scheme.ForwardDefaultSelector = context => SelectScheme(context.Request.Headers, jwt))
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        if (jwt)
        {
            var options = plan.Options.Jwt;
            builder.AddJwtBearer(JwtBearerDefaults.AuthenticationScheme, bearer =>
            {
                bearer.MapInboundClaims = false;
                bearer.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = options.Issuer,
                    ValidAudience = options.Audience,
                    IssuerSigningKeys = plan.JwtKeys,
                    ValidateIssuerSigningKey = true,
                    RequireExpirationTime = true,
                    ClockSkew = TimeSpan.FromSeconds(options.ClockSkewSeconds),
                    NameClaimType = NameClaim,
                };
            });
        }

        var scope = plan.Options.Jwt.RequiredScope;
        services.AddAuthorizationBuilder().AddPolicy(PolicyName, policy =>
        {
            policy.RequireAuthenticatedUser();
            if (!string.IsNullOrWhiteSpace(scope))
            {
                // API keys are the server's own credentials and carry every scope; tokens must name it.
                policy.RequireAssertion(context => context.User.Identity?.AuthenticationType == ApiKeyAuthenticationHandler.SchemeName || HasScope(context.User, scope));
            }
        });
        services.AddSingleton<AuthorizationMiddlewareResultHandler>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, GrpcAuthorizationResultHandler>();
        return services;
    }

    /// <summary>The key a call presents: <c>x-api-key</c>, else the bearer value of <c>authorization</c>; empty for none.</summary>
    public static ReadOnlySpan<char> PresentedKey(IHeaderDictionary headers)
    {
        if (headers.TryGetValue(ApiKeyHeaderName, out var key) && key.Count > 0 && !string.IsNullOrEmpty(key[0]))
        {
            return key[0].AsSpan().Trim();
        }

        return Bearer(headers);
    }

    /// <summary>The name logs, metrics and quotas know an authenticated caller by: the key's name or the token's subject.</summary>
    public static string CallerName(ClaimsPrincipal user) =>
        user.Identity?.Name ?? user.FindFirst("client_id")?.Value ?? user.FindFirst("azp")?.Value ?? "unnamed";

    public static bool HasScope(ClaimsPrincipal user, string scope) =>
        user.Claims.Any(c => c.Type is "scope" or "scp" && c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(scope, StringComparer.Ordinal));

    private static string SelectScheme(IHeaderDictionary headers, bool jwt) =>
        jwt && !headers.ContainsKey(ApiKeyHeaderName) && LooksLikeJwt(Bearer(headers)) ? JwtBearerDefaults.AuthenticationScheme : ApiKeyAuthenticationHandler.SchemeName;

    private static ReadOnlySpan<char> Bearer(IHeaderDictionary headers)
    {
        var authorization = headers.Authorization.Count > 0 ? headers.Authorization[0].AsSpan() : default;
        return authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization[7..].Trim() : default;
    }

    /// <summary>A compact JWS: three base64url parts, the header a JSON object (<c>eyJ</c> is <c>{"</c>).</summary>
    private static bool LooksLikeJwt(ReadOnlySpan<char> value) => value.StartsWith("eyJ", StringComparison.Ordinal) && value.Count('.') == 2;

    private static List<SecurityKey> JwtKeys(JwtAuthOptions options)
    {
        const string setting = DfbNetAuthOptions.SectionName + ":Jwt";
        if (string.IsNullOrWhiteSpace(options.JwksFile))
        {
            return [];
        }

        if (string.IsNullOrWhiteSpace(options.Issuer) || string.IsNullOrWhiteSpace(options.Audience))
        {
            throw new InvalidOperationException($"{setting}:JwksFile is set, so {setting}:Issuer and {setting}:Audience must be too (tokens are checked against both).");
        }

        if (options.ClockSkewSeconds is < 0 or > 3600)
        {
            throw new InvalidOperationException($"{setting}:ClockSkewSeconds must be 0 to 3600.");
        }

        string json;
        try
        {
            json = File.ReadAllText(options.JwksFile);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{setting}:JwksFile '{options.JwksFile}' cannot be read: {ex.Message}", ex);
        }

        List<SecurityKey> keys;
        try
        {
            keys = [.. new JsonWebKeySet(json).GetSigningKeys()];
        }
        catch (Exception ex) when (ex is ArgumentException or System.Text.Json.JsonException)
        {
            throw new InvalidOperationException($"{setting}:JwksFile '{options.JwksFile}' is not a JSON Web Key Set: {ex.Message}", ex);
        }

        return keys.Count > 0 ? keys : throw new InvalidOperationException($"{setting}:JwksFile '{options.JwksFile}' holds no signing keys.");
    }
}
