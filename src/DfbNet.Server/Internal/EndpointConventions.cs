namespace DfbNet.Server.Internal;

/// <summary>The conventions the server's endpoints share: which listener serves them, and whether they need credentials.</summary>
internal static class EndpointConventions
{
    /// <summary>Serves the endpoints on the listener of <paramref name="port"/> only, 404 elsewhere: the port a request
    /// came in on decides, not its Host header (which a client may set to anything).</summary>
    public static void OnlyOnPort(IEndpointConventionBuilder endpoints, int port) =>
        endpoints.Add(builder =>
        {
            var handler = builder.RequestDelegate!;
            builder.RequestDelegate = context =>
            {
                if (context.Connection.LocalPort == port)
                {
                    return handler(context);
                }

                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            };
        });

    /// <summary>Puts the endpoints behind the server's policy when authentication is on and they are not configured open.</summary>
    public static void Protect(IEndpointConventionBuilder endpoints, AuthPlan? auth, bool open)
    {
        if (auth is { Enabled: true } && !open)
        {
            endpoints.RequireAuthorization(DfbNetAuthentication.PolicyName);
        }
    }
}
