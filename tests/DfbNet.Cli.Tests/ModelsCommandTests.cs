using DfbNet.Server.Tests;

namespace DfbNet.Cli.Tests;

/// <summary><c>dfbnet models list|load|unload</c> against a real server.</summary>
public sealed class ModelsCommandTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private string _address = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _address = TestServer.GrpcAddress(_server.App);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ListUnloadLoad_ShowAndChangeWhatTheServerServes()
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync(["models", "list", "--server", _address]);
        Assert.True(code == 0, stderr);
        Assert.Equal(["NAME    VERSION  STATE  REASON", "second  1        READY", "tiny    1        READY"], Lines(stdout));

        (code, stdout, stderr) = await CliProcess.RunAsync(["models", "unload", "second", "--server", _address]);
        Assert.True(code == 0, stderr);
        Assert.Equal("second: unloaded", Lines(stdout).Single());
        Assert.DoesNotContain("second", _server.Models.Names);
        (_, stdout, _) = await CliProcess.RunAsync(["models", "list", "--server", _address]);
        Assert.Contains("second  1        UNAVAILABLE  not loaded", Lines(stdout));

        (code, stdout, stderr) = await CliProcess.RunAsync(["models", "load", "second", "--server", _address]);
        Assert.True(code == 0, stderr);
        Assert.Equal("second: version 1 is serving", Lines(stdout).Single());
        Assert.Contains("second", _server.Models.Names);
    }

    [Fact]
    public async Task Load_UnknownModel_IsOneLine_ExitOne()
    {
        var (code, _, stderr) = await CliProcess.RunAsync(["models", "load", "nope", "--server", _address]);
        Assert.Equal(1, code);
        var line = Assert.Single(Lines(stderr));
        Assert.StartsWith("dfbnet models load: NotFound: Model 'nope' is not in the repository", line, StringComparison.Ordinal);
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
