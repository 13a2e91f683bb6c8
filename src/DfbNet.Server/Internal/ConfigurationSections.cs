namespace DfbNet.Server.Internal;

/// <summary>Reads settings sections that start-up needs before the host is built (auth, TLS, tracing).</summary>
internal static class ConfigurationSections
{
    /// <summary>The section as an object; a value of the wrong type stops start-up with one line naming it.</summary>
    /// <exception cref="InvalidOperationException">Starting with the section's name.</exception>
    public static T Bind<T>(IConfiguration configuration, string section)
        where T : new()
    {
        try
        {
            return configuration.GetSection(section).Get<T>() ?? new T();
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidOperationException($"{section}: {ex.Message}", ex);
        }
    }
}
