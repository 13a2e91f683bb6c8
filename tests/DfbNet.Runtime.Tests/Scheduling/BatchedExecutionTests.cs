using System.Collections.Concurrent;
using DfbNet.Core;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Runtime.Scheduling;

namespace DfbNet.Runtime.Tests.Scheduling;

/// <summary>Frames of many callers batched at each stage get exactly the events they get one at a time.</summary>
public sealed class BatchedExecutionTests : IDisposable
{
    private readonly TestModelFolder _tiny = new();

    public void Dispose() => _tiny.Dispose();

    public static TheoryData<string> Models => ["tiny", "bundled"];

    [Theory]
    [MemberData(nameof(Models))]
    public async Task BatchedRuns_ReturnThePerFrameResultsOfBatchOne(string model)
    {
        var folder = model == "tiny" ? _tiny.Path : BundledModel.Path;
        using var single = EarlyExitEngine.Load(folder, new EngineOptions { WarmupRuns = 1, Scheduler = new() { MaxBatchSize = 1, Executors = 1 } });
        using var batched = EarlyExitEngine.Load(folder, new EngineOptions { WarmupRuns = 1, Scheduler = new() { MaxBatchSize = 16, Executors = 1, MaxAdmittedFrames = 1024 } });
        Assert.All(batched.MaxBatchSizes, b => Assert.Equal(16, b));

        const int frames = 96;
        var expected = new List<ExitEvent>[frames];
        for (var i = 0; i < frames; i++)
        {
            expected[i] = await Collect(single, Request(single, i));
        }

        // All submitted at once to one executor: while it runs a batch the rest queue, so later batches are full.
        var sinks = Enumerable.Range(0, frames).Select(_ => new CollectingSink()).ToArray();
        for (var i = 0; i < frames; i++)
        {
            Assert.True(batched.Admission.TryAdmit(null, out _));
            batched.Submit(Request(batched, i), sinks[i], null, CancellationToken.None);
        }

        await Task.WhenAll(sinks.Select(s => s.Final.Task)).WaitAsync(TimeSpan.FromSeconds(60));
        for (var i = 0; i < frames; i++)
        {
            var actual = sinks[i].Events.ToList();
            Assert.Equal(expected[i].Select(e => (e.Kind, e.Exit)), actual.Select(e => (e.Kind, e.Exit)));
            for (var e = 0; e < actual.Count; e++)
            {
                var want = expected[i][e].Prediction!.Probabilities;
                var got = actual[e].Prediction!.Probabilities;
                for (var k = 0; k < want.Length; k++)
                {
                    Assert.Equal(want[k], got[k], 1e-5f);
                }
            }
        }

        var stats = batched.Statistics.Snapshot();
        Assert.True(stats.StageFrames > 2 * stats.StageExecutions, $"mean batch {(double)stats.StageFrames / stats.StageExecutions:F2}: the frames did not batch");
        Assert.Equal(0, batched.Admission.Admitted);
        Assert.Equal(0, batched.InFlightFrames);
    }

    private static FrameRequest Request(EarlyExitEngine engine, int image) =>
        new($"f{image}", ImageSource.Raw(CifarSlice.Hwc(image), 32, 32), engine.ResolvePolicy(null, null), InferenceMode.Full, null, 0);

    private static async Task<List<ExitEvent>> Collect(EarlyExitEngine engine, FrameRequest request)
    {
        var list = new List<ExitEvent>();
        await foreach (var e in engine.ClassifyAsync(request))
        {
            list.Add(e);
        }

        return list;
    }

    private sealed class CollectingSink : IFrameEventSink
    {
        public ConcurrentQueue<ExitEvent> Events { get; } = new();

        public TaskCompletionSource Final { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnEvent(ExitEvent exitEvent)
        {
            Events.Enqueue(exitEvent);
            if (exitEvent.IsFinal)
            {
                Final.TrySetResult();
            }
        }

        public void OnCancelled() => Final.TrySetException(new OperationCanceledException());
    }
}

/// <summary>The repository's bundled model, models/default, found upwards from the test binaries.</summary>
internal static class BundledModel
{
    public static string Path { get; } = Locate();

    private static string Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "models", "default");
            if (File.Exists(System.IO.Path.Combine(candidate, "manifest.json")))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("models/default not found above " + AppContext.BaseDirectory);
    }
}
