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
        Assert.Equal(ExitKind.Fused, response.Answer.Kind);
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
}
