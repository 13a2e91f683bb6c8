using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace DfbNet.Server.Internal;

/// <summary>Authenticates a call by its API key: <c>x-api-key: KEY</c>, or <c>authorization: Bearer KEY</c> when the
/// bearer value is not a JWT (<see cref="DfbNetAuthentication.SelectScheme"/> sends those to the JWT handler).</summary>
internal sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyStore keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var key = DfbNetAuthentication.PresentedKey(Request.Headers);
        if (key.IsEmpty)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (keys.Find(key) is not { } name)
        {
            return Task.FromResult(AuthenticateResult.Fail("the API key is not one the server knows"));
        }

        var identity = new ClaimsIdentity([new Claim(DfbNetAuthentication.NameClaim, name)], SchemeName, DfbNetAuthentication.NameClaim, "role");
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }
}
