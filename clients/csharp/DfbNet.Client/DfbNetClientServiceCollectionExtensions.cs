using System.Collections.Concurrent;
using DfbNet.Client;
using DfbNet.Client.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="DfbNetClient"/>s in a service collection: one default client, or named ones.</summary>
public static class DfbNetClientServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="DfbNetClientOptions"/> (validated when the client is first resolved) and a singleton
    /// <see cref="DfbNetClient"/> (also as <see cref="IDfbNetClient"/>) built from them, logging through the container's
    /// <see cref="ILoggerFactory"/> where there is one.
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
        services.TryAddSingleton<IDfbNetClient>(provider => provider.GetRequiredService<DfbNetClient>());
        return builder;
    }

    /// <summary>
    /// Adds a named client: its options are the named <see cref="DfbNetClientOptions"/> <paramref name="name"/>
    /// (validated on first use), and <see cref="IDfbNetClientFactory.GetClient"/> returns it. For a service that talks to
    /// several DfbNet servers (a camera tier and a cloud tier, say).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The client's name.</param>
    /// <param name="configure">Sets its options.</param>
    /// <returns>The options builder of the named options.</returns>
    public static OptionsBuilder<DfbNetClientOptions> AddDfbNetClient(this IServiceCollection services, string name, Action<DfbNetClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        var builder = services.AddOptions<DfbNetClientOptions>(name);
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DfbNetClientOptions>, DfbNetClientOptionsValidator>());
        services.AddSingleton(new ClientName(name));
        services.TryAddSingleton<IDfbNetClientFactory, DfbNetClientFactory>();
        return builder;
    }

    private sealed record ClientName(string Name);

    private sealed class DfbNetClientFactory(IOptionsMonitor<DfbNetClientOptions> options, IEnumerable<ClientName> names, ILoggerFactory? loggerFactory = null) : IDfbNetClientFactory, IDisposable
    {
        private readonly HashSet<string> _names = [.. names.Select(n => n.Name)];
        private readonly ConcurrentDictionary<string, Lazy<DfbNetClient>> _clients = new(StringComparer.Ordinal);

        public IDfbNetClient GetClient(string name) => _names.Contains(name)
            ? _clients.GetOrAdd(name, n => new Lazy<DfbNetClient>(() => new DfbNetClient(options.Get(n), loggerFactory))).Value
            : throw new InvalidOperationException($"No DfbNet client is named '{name}' (clients: {string.Join(", ", _names.Order(StringComparer.Ordinal))}); add it with AddDfbNetClient(\"{name}\", ...).");

        public void Dispose()
        {
            foreach (var client in _clients.Values.Where(c => c.IsValueCreated))
            {
                client.Value.Dispose();
            }
        }
    }
}
