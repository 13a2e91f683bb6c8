// <quickstart>
using DfbNet.Client;
using DfbNet.Protocol.V1;

namespace MyApp;

public static class QuickStart
{
    /// <summary>Classifies one photo, then streams it three times as frames and prints every exit event.</summary>
    public static async Task RunAsync(Uri server, string photo, TextWriter output, CancellationToken cancellationToken = default)
    {
        using var client = new DfbNetClient(new DfbNetClientOptions { Address = server, Mode = InferenceMode.FirstExit });

        var info = await client.GetModelInfoAsync(cancellationToken: cancellationToken);
        await output.WriteLineAsync($"model {info.Name}: {info.Exits.Count} exits");

        var image = await ImageInput.FromFileAsync(photo, cancellationToken);
        var result = await client.ClassifyAsync(image, cancellationToken: cancellationToken);
        var answer = result.Answer;
        await output.WriteLineAsync($"answer: {answer.Prediction?.ClassName} {answer.Prediction?.Confidence:0.000} ({answer.Kind} at exit {answer.Exit}, {result.Events.Count} events)");

        var frames = Enumerable.Range(0, 3).Select(i => new InputFrame($"frame-{i}", image)).ToAsyncEnumerable();
        await foreach (var e in client.StreamAsync(frames, new RequestOptions { Mode = InferenceMode.Refine }, cancellationToken))
        {
            await output.WriteLineAsync($"{e.Frame.Id} exit {e.Event.Exit} {e.Event.Kind}{(e.IsFinal ? $" final after {e.RoundTrip.TotalMilliseconds:0.0} ms" : "")}");
        }
    }
}
// </quickstart>
