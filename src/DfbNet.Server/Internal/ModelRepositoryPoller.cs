using Microsoft.Extensions.Options;

namespace DfbNet.Server.Internal;

/// <summary>With <see cref="DfbNetServerOptions.ModelPollSeconds"/> set, looks at the model root that often and makes
/// the served models match it (<see cref="ModelRegistry.SyncWithDiskAsync"/>). Off by default: nothing runs.</summary>
internal sealed class ModelRepositoryPoller(ModelRegistry models, IOptions<DfbNetServerOptions> options, TimeProvider clock, ILogger<ModelRepositoryPoller> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var seconds = options.Value.ModelPollSeconds;
        if (seconds <= 0)
        {
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(seconds), clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await models.SyncWithDiskAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A root that is being rewritten (a copy in progress) is looked at again next time.
                ServerLog.ModelPollFailed(logger, ex.Message);
            }
        }
    }
}
