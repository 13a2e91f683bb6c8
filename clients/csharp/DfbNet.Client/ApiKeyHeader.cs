namespace DfbNet.Client;

/// <summary>How <see cref="DfbNetClientOptions.ApiKey"/> is sent to the server.</summary>
public enum ApiKeyHeader
{
    /// <summary>As <c>authorization: Bearer &lt;key&gt;</c>.</summary>
    AuthorizationBearer,

    /// <summary>As <c>x-api-key: &lt;key&gt;</c>.</summary>
    XApiKey,
}
