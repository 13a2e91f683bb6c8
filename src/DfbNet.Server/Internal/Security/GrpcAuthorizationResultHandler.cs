using System.Globalization;
using System.Text;
using Grpc.Core;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.IdentityModel.Tokens;

namespace DfbNet.Server.Internal;

/// <summary>
/// Answers a gRPC call that failed authentication with UNAUTHENTICATED, and one that failed authorisation with
/// PERMISSION_DENIED, each with a one-line reason (never the credential itself); other requests (the metrics scrape)
/// get ASP.NET Core's 401 and 403.
/// </summary>
internal sealed class GrpcAuthorizationResultHandler(AuthorizationMiddlewareResultHandler fallback, AuthPlan plan) : IAuthorizationMiddlewareResultHandler
{
    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Succeeded)
        {
            await next(context);
            return;
        }

        var challenged = authorizeResult.Challenged;
        ServerMetrics.AuthRefused(challenged ? "unauthenticated" : "permission_denied");
        var grpc = context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true;
        var rest = context.Request.Path.StartsWithSegments("/v2", StringComparison.Ordinal);
        if (!grpc && !rest)
        {
            await fallback.HandleAsync(next, context, policy, authorizeResult);
            return;
        }

        string message;
        if (challenged)
        {
            // The handlers cache their result per request: this is the outcome the policy saw, with its failure.
            var result = await context.AuthenticateAsync(DfbNetAuthentication.SchemeName);
            message = $"Unauthenticated: {Describe(result.Failure)}";
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }
        else
        {
            message = $"Permission denied: caller '{DfbNetAuthentication.CallerName(context.User)}' has no scope '{plan.Options.Jwt.RequiredScope}' ({DfbNetAuthOptions.SectionName}:Jwt:RequiredScope).";
        }

        if (rest)
        {
            // The REST API's error body, with the HTTP status.
            context.Response.StatusCode = challenged ? StatusCodes.Status401Unauthorized : StatusCodes.Status403Forbidden;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { ["error"] = message }), context.RequestAborted);
            return;
        }

        // A trailers-only gRPC response: HTTP 200 with grpc-status in the headers, as gRPC servers answer a call they refuse.
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-status"] = ((int)(challenged ? StatusCode.Unauthenticated : StatusCode.PermissionDenied)).ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["grpc-message"] = PercentEncode(message);
    }

    private string Describe(Exception? failure) => failure switch
    {
        null => $"the call carries no credentials; send 'authorization: Bearer <API key{(plan.Jwt ? " or token" : "")}>' or '{DfbNetAuthentication.ApiKeyHeaderName}: <API key>'.",
        SecurityTokenExpiredException expired => $"the token expired at {expired.Expires:yyyy-MM-ddTHH:mm:ssZ}.",
        SecurityTokenNotYetValidException => "the token is not valid yet (nbf).",
        SecurityTokenInvalidAudienceException => $"the token's audience is not {DfbNetAuthOptions.SectionName}:Jwt:Audience.",
        SecurityTokenInvalidIssuerException => $"the token's issuer is not {DfbNetAuthOptions.SectionName}:Jwt:Issuer.",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => $"the token's signature does not verify with a key of {DfbNetAuthOptions.SectionName}:Jwt:JwksFile.",
        SecurityTokenNoExpirationException => "the token has no expiry (exp).",
        SecurityTokenException or ArgumentException => "the token is not a valid JWT.",
        _ => $"{failure.Message}.",
    };

    /// <summary>gRPC's percent-encoding of grpc-message: UTF-8 bytes outside printable ASCII, and '%', as %XX.</summary>
    private static string PercentEncode(string message)
    {
        var text = new StringBuilder(message.Length);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E and not (byte)'%')
            {
                text.Append((char)b);
            }
            else
            {
                text.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return text.ToString();
    }
}
