// A service with a latency budget: each request gets 20 ms on the server; when the budget is met the answer comes
// from whichever exit was confident by then (or a BUDGET_CUT with the best so far), never late. Registered through
// dependency injection, as a web service would, and called through IDfbNetClient.
// Usage: BudgetedService [SERVER] [CALLS]   (default http://localhost:50051, 10 calls)
using DfbNet.Client;
using Microsoft.Extensions.DependencyInjection;

var server = new Uri(args.Length > 0 ? args[0] : "http://localhost:50051");
var calls = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10;
var services = new ServiceCollection();
services.AddDfbNetClient(o =>
{
    o.Address = server;
    o.Budget = TimeSpan.FromMilliseconds(20);
    o.Timeout = TimeSpan.FromSeconds(5);
});
await using var provider = services.BuildServiceProvider();
var client = provider.GetRequiredService<IDfbNetClient>();
var info = await client.GetModelInfoAsync();

// A budget is a promise about time, not about an answer: on a busy machine a call may be cut before its first exit
// and come back on time with no prediction. That is the budget working, so it is counted, not treated as a failure.
var answered = 0;
var late = 0;
for (var i = 0; i < calls; i++)
{
    var rgb = new byte[info.InputWidth * info.InputHeight * 3];
    Random.Shared.NextBytes(rgb);
    var response = await client.ClassifyAsync(ImageInput.FromRgb(rgb, info.InputWidth, info.InputHeight));
    var answer = response.Answer;
    Console.WriteLine($"call {i}: {answer.Kind} exit {answer.Exit} {answer.Prediction?.ClassName} in {answer.ServerTime.TotalMilliseconds:0.00} ms");
    answered += answer.Prediction is null ? 0 : 1;
    late += answer.ServerTime > TimeSpan.FromMilliseconds(20) ? 1 : 0;
}

Console.WriteLine($"{answered} of {calls} calls answered, {calls - answered} cut before their first exit, {late} past the 20 ms budget");
return answered > 0 ? 0 : 1;
