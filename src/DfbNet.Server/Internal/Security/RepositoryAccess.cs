using Grpc.Core;

namespace DfbNet.Server.Internal;

/// <summary>Who may change the model repository (load, unload): with authentication on, the callers named in
/// <see cref="DfbNetAuthOptions.Admins"/> and tokens with <see cref="JwtAuthOptions.AdminScope"/>; with it off (a
/// loopback-only server), anyone who can reach the server.</summary>
internal sealed class RepositoryAccess(AuthPlan? plan = null)
{
    /// <exception cref="RpcException">PERMISSION_DENIED, naming the caller and the settings that would allow it.</exception>
    public void Demand(ServerCallContext context) => Demand(context.GetHttpContext().User);

    /// <exception cref="RpcException">PERMISSION_DENIED, naming the caller and the settings that would allow it.</exception>
    public void Demand(System.Security.Claims.ClaimsPrincipal user)
    {
        if (plan is not { Enabled: true })
        {
            return;
        }

        var name = DfbNetAuthentication.CallerName(user);
        if (plan.Options.Admins.Contains(name, StringComparer.Ordinal)
            || (user.Identity?.AuthenticationType != ApiKeyAuthenticationHandler.SchemeName && DfbNetAuthentication.HasScope(user, plan.Options.Jwt.AdminScope)))
        {
            return;
        }

        ServerMetrics.AuthRefused("permission_denied");
        throw new RpcException(new Status(StatusCode.PermissionDenied,
            $"Permission denied: caller '{name}' may not load or unload models; add it to {DfbNetAuthOptions.SectionName}:Admins (or give its token the scope '{plan.Options.Jwt.AdminScope}')."));
    }
}
