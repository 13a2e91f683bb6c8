using Grpc.Core;
using Grpc.Net.Client;
using Inference = DfbNet.Protocol.Inference;

namespace DfbNet.Cli.Load;

/// <summary>The model's stage runs by batch size, read from the server's Open Inference Protocol statistics
/// (Triton's <c>batch_stats</c>).</summary>
internal sealed class ServerStatistics(GrpcChannel channel, string model) : IBatchStatistics
{
    private readonly Inference.GRPCInferenceService.GRPCInferenceServiceClient _client = new(channel);

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
}
