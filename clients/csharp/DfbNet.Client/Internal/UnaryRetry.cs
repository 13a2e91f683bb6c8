using Grpc.Core;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace DfbNet.Client.Internal;

/// <summary>
/// The Polly pipeline of unary calls: retry on transient status codes with exponential back-off, never starting a
/// wait that would end past the call's deadline. Every attempt carries the same absolute deadline, so the call as a
/// whole never outlives it.
/// </summary>
internal sealed class UnaryRetry
{
    private static readonly ResiliencePropertyKey<DateTime?> DeadlineKey = new("dfbnet.deadline");
    private static readonly ResiliencePropertyKey<string> MethodKey = new("dfbnet.method");

    private readonly ResiliencePipeline _pipeline;

    public UnaryRetry(DfbNetClientOptions options, Backoff backoff, ILogger logger)
    {
        if (options.MaxRetries == 0)
        {
            _pipeline = ResiliencePipeline.Empty;
            return;
        }

        _pipeline = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                Name = "dfbnet-unary-retry",
                MaxRetryAttempts = options.MaxRetries,
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is RpcException rpc
                    && backoff.IsTransient(rpc)
                    && !args.Context.CancellationToken.IsCancellationRequested
                    && backoff.FitsDeadline(args.AttemptNumber, args.Context.Properties.GetValue(DeadlineKey, null))),
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(backoff.Delay(args.AttemptNumber)),
                OnRetry = args =>
                {
                    var status = (args.Outcome.Exception as RpcException)?.StatusCode ?? StatusCode.Unknown;
                    ClientLog.Retrying(logger, args.Context.Properties.GetValue(MethodKey, "call"), status, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <summary>Runs <paramref name="call"/> (given the attempt's token) until it succeeds, fails for good, or runs out of attempts or time.</summary>
    public async Task<TResult> ExecuteAsync<TResult, TState>(string method, DateTime? deadline, TState state, Func<TState, CancellationToken, Task<TResult>> call, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(DeadlineKey, deadline);
        context.Properties.Set(MethodKey, method);
        try
        {
            return await _pipeline.ExecuteAsync(
                static async (ctx, s) => await s.Call(s.State, ctx.CancellationToken),
                context,
                (Call: call, State: state));
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }
}
