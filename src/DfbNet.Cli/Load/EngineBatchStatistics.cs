using DfbNet.Runtime;

namespace DfbNet.Cli.Load;

/// <summary>The stage runs by batch size of an engine in this process (<c>--in-process</c>), from its statistics.</summary>
internal sealed class EngineBatchStatistics(EarlyExitEngine engine) : IBatchStatistics
{
    public Task<Dictionary<long, long>?> ReadAsync(CancellationToken cancellationToken) =>
        Task.FromResult<Dictionary<long, long>?>(engine.Statistics.RunsByBatchSize().ToDictionary(b => (long)b.BatchSize, b => b.Runs));
}
