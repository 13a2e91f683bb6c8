namespace DfbNet.LoadBench.Processes;

/// <summary>
/// Runs that share one server with given settings, started with the first of them. When something outside stops the
/// server during a run (a signal from another process), the run is made again on a new server, once; a server found
/// stopped after a run is replaced before the next.
/// </summary>
internal sealed class ServerSession(BenchContext context, string scenario, ServerSettings settings) : IAsyncDisposable
{
    private ServerProcess? _server;

    public ServerSettings Settings => settings;

    public async Task<LoadRun> LoadAsync(string label, LoadSpec spec, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            _server ??= await context.StartServerAsync(scenario, settings, cancellationToken);
            var run = await context.LoadAsync(scenario, label, spec, _server, settings.Describe(), cancellationToken);
            var repeat = context.NeedsRepeat(_server, attempt);
            if (_server.Interrupted)
            {
                await _server.DisposeAsync();
                _server = null;
            }

            if (!repeat)
            {
                return run;
            }
        }
    }

    public ValueTask DisposeAsync() => _server?.DisposeAsync() ?? ValueTask.CompletedTask;
}
