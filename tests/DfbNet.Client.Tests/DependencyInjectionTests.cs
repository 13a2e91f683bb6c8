using DfbNet.Protocol.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DfbNet.Client.Tests;

public sealed class DependencyInjectionTests
{
    [Fact]
    public async Task AddDfbNetClient_ResolvesOneConfiguredClient()
    {
        await using var server = await LoopbackServer.StartAsync();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDfbNetClient(o =>
        {
            o.Address = server.Address;
            o.Mode = InferenceMode.Full;
        });
        await using var provider = services.BuildServiceProvider();

        var client = provider.GetRequiredService<DfbNetClient>();
        Assert.Same(client, provider.GetRequiredService<DfbNetClient>());
        var response = await client.ClassifyAsync(Images.Raw(2));
        Assert.Equal(FrameEventKind.Fused, response.Answer.Kind);
    }

    [Fact]
    public void AddDfbNetClient_InvalidOptions_FailWithTheirName()
    {
        var services = new ServiceCollection();
        services.AddDfbNetClient(o => o.MaxFramesInFlight = 0);
        using var provider = services.BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<DfbNetClient>());
        Assert.Contains("MaxFramesInFlight", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NamedClients_EachWithItsOwnOptions_FromTheFactory_AndTheInterfaceForTheDefault()
    {
        await using var server = await LoopbackServer.StartAsync();
        var services = new ServiceCollection();
        services.AddDfbNetClient("full", o => (o.Address, o.Mode) = (server.Address, InferenceMode.Full));
        services.AddDfbNetClient("fast", o => (o.Address, o.Preset) = (server.Address, "fast"));
        services.AddDfbNetClient(o => o.Address = server.Address);
        await using var provider = services.BuildServiceProvider();

        var factory = provider.GetRequiredService<IDfbNetClientFactory>();
        Assert.Same(factory.GetClient("full"), factory.GetClient("full"));
        Assert.NotSame(factory.GetClient("full"), factory.GetClient("fast"));
        Assert.Equal(FrameEventKind.Fused, (await factory.GetClient("full").ClassifyAsync(Images.Raw(2))).Answer.Kind);
        var unknown = Assert.Throws<InvalidOperationException>(() => factory.GetClient("other"));
        Assert.Contains("clients: fast, full", unknown.Message, StringComparison.Ordinal);

        IDfbNetClient client = provider.GetRequiredService<IDfbNetClient>();
        Assert.Same(provider.GetRequiredService<DfbNetClient>(), client);
        Assert.Equal(server.Address, client.Address);
    }

    [Fact]
    public void Defaults_TwoFramesInFlight_AsTheCli()
    {
        Assert.Equal(2, new DfbNetClientOptions().MaxFramesInFlight);
    }
}
