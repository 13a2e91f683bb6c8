using Grpc.Core;
using Grpc.Net.Client;
using Inference = DfbNet.Protocol.Inference;

namespace DfbNet.Cli.Load;

/// <summary>The model's stage runs by batch size, read from the server's Open Inference Protocol statistics
/// (Triton's <c>batch_stats</c>), so a run can say how well the server batched.</summary>
internal sealed class ServerStatistics(GrpcChannel channel, string model)
{
    private readonly Inference.GRPCInferenceService.GRPCInferenceServiceClient _client = new(channel);

    /// <summary>Stage runs by batch size so far; null when the server does not answer.</summary>
    public async Task<Dictionary<long, long>?> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            var response = await _client.ModelStatisticsAsync(new Inference.ModelStatisticsRequest { Name = model }, deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: cancellationToken);
            return response.ModelStats.Count == 0 ? null : response.ModelStats[0].BatchStats.ToDictionary(b => (long)b.BatchSize, b => (long)b.ComputeInfer.Count);
        }
        catch (RpcException)
        {
            return null;
        }
    }

    /// <summary>What ran between two readings.</summary>
    public static ServerBatches? Difference(Dictionary<long, long>? before, Dictionary<long, long>? after)
    {
        if (before is null || after is null)
        {
            return null;
        }

        var runs = new SortedDictionary<long, long>();
        foreach (var (size, count) in after)
        {
            var delta = count - before.GetValueOrDefault(size);
            if (delta > 0)
            {
                runs[size] = delta;
            }
        }

        var total = runs.Values.Sum();
        var frames = runs.Sum(p => p.Key * p.Value);
        return new ServerBatches(total, frames, total == 0 ? 0 : (double)frames / total, runs.ToDictionary(p => p.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), p => p.Value));
    }
}
