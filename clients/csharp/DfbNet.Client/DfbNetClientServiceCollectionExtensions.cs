using DfbNet.Client;
using DfbNet.Client.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers a <see cref="DfbNetClient"/> in a service collection.</summary>
public static class DfbNetClientServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="DfbNetClientOptions"/> (validated when the client is first resolved) and a singleton
    /// <see cref="DfbNetClient"/> built from them, logging through the container's <see cref="ILoggerFactory"/> where there
    /// is one.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options; more can be chained on the returned builder (for example <c>.Bind(section)</c>).</param>
    /// <returns>The options builder of <see cref="DfbNetClientOptions"/>.</returns>
    public static OptionsBuilder<DfbNetClientOptions> AddDfbNetClient(this IServiceCollection services, Action<DfbNetClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = services.AddOptions<DfbNetClientOptions>();
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DfbNetClientOptions>, DfbNetClientOptionsValidator>());
        services.TryAddSingleton(provider => new DfbNetClient(
            provider.GetRequiredService<IOptions<DfbNetClientOptions>>().Value,
            provider.GetService<ILoggerFactory>()));
        return builder;
    }
}
