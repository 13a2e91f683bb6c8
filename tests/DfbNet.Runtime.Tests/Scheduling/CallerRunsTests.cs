using DfbNet.Core;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Runtime.Scheduling;

namespace DfbNet.Runtime.Tests.Scheduling;

/// <summary>A frame that reaches an idle model runs on its submitter's thread; otherwise the executors run it.</summary>
public sealed class CallerRunsTests : IDisposable
{
    private readonly TestModelFolder _tiny = new();

    public void Dispose() => _tiny.Dispose();

    [Fact]
    public void IdleModel_RunsTheFrameOnTheSubmittingThread()
    {
        using var engine = EarlyExitEngine.Load(_tiny.Path, new EngineOptions { WarmupRuns = 1 });
        for (var i = 0; i < 5; i++)
        {
            // Past the idle gap the model asks for (a millisecond), so that the frame finds it idle.
            Thread.Sleep(5);
            var sink = new ThreadSink();
            Assert.True(engine.Admission.TryAdmit(null, out _));
            engine.Submit(Request(engine, i), sink, null, CancellationToken.None);

            // Every stage ran before Submit returned, and the events came from this thread.
            Assert.True(sink.Final.IsSet, "the final event came after Submit returned");
            Assert.Equal([Environment.CurrentManagedThreadId], sink.Threads.Distinct());
        }

        Assert.Equal(0, engine.InFlightFrames);
        Assert.Equal(0, engine.Admission.Admitted);
    }

    [Fact]
    public void NoIdleGap_FramesSubmittedOneAfterAnother_AllRunOnTheSubmittingThread()
    {
        // As dfbnet eval times frames: each submitted as soon as the last one has ended, no pause between them.
        using var engine = EarlyExitEngine.Load(_tiny.Path, new EngineOptions { WarmupRuns = 1, Scheduler = new() { CallerRunsAfterIdle = TimeSpan.Zero } });
        for (var i = 0; i < 20; i++)
        {
            var sink = new ThreadSink();
            Assert.True(engine.Admission.TryAdmit(null, out _));
            engine.Submit(Request(engine, i), sink, null, CancellationToken.None);
            Assert.True(sink.Final.IsSet, $"frame {i}: the final event came after Submit returned");
            Assert.Equal([Environment.CurrentManagedThreadId], sink.Threads.Distinct());
        }
    }

    [Fact]
    public void NegativeIdleGap_IsRefusedByName()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => EarlyExitEngine.Load(_tiny.Path, new EngineOptions { Scheduler = new() { CallerRunsAfterIdle = TimeSpan.FromMilliseconds(-1) } }));
        Assert.Equal(nameof(SchedulerOptions.CallerRunsAfterIdle), ex.ParamName);
    }

    [Theory]
    [InlineData(false, 0)] // turned off
    [InlineData(true, 3)] // niced executors: stage runs yield to the network threads, so they stay off them
    public void TurnedOffOrNiced_TheExecutorsRunEveryFrame(bool runOnCaller, int niceness)
    {
        using var engine = EarlyExitEngine.Load(_tiny.Path, new EngineOptions { WarmupRuns = 1, Scheduler = new() { RunOnCallerWhenIdle = runOnCaller, ExecutorNiceness = niceness } });
        Thread.Sleep(5);
        var sink = new ThreadSink();
        Assert.True(engine.Admission.TryAdmit(null, out _));
        engine.Submit(Request(engine, 0), sink, null, CancellationToken.None);
        Assert.True(sink.Final.Wait(TimeSpan.FromSeconds(30)));
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, sink.Threads);
    }

    [Fact]
    public void BurstFromOneThread_GoesToTheExecutors_AndBatches()
    {
        // Submitted back to back: the first finds the model idle, the rest arrive within the idle gap, queue and batch.
        using var engine = EarlyExitEngine.Load(_tiny.Path, new EngineOptions { WarmupRuns = 1, Scheduler = new() { MaxBatchSize = 16, Executors = 1, MaxAdmittedFrames = 256 } });
        var sinks = Enumerable.Range(0, 64).Select(_ => new ThreadSink()).ToArray();
        for (var i = 0; i < sinks.Length; i++)
        {
            Assert.True(engine.Admission.TryAdmit(null, out _));
            engine.Submit(Request(engine, i), sinks[i], null, CancellationToken.None);
        }

        Assert.All(sinks, s => Assert.True(s.Final.Wait(TimeSpan.FromSeconds(60))));
        Assert.Contains(sinks, s => !s.Threads.Contains(Environment.CurrentManagedThreadId));
        var stats = engine.Statistics.Snapshot();
        Assert.True(stats.StageFrames > stats.StageExecutions, $"mean batch {(double)stats.StageFrames / stats.StageExecutions:F2}: the burst did not batch");
    }

    private static FrameRequest Request(EarlyExitEngine engine, int image) =>
        new($"f{image}", ImageSource.Raw(CifarSlice.Hwc(image), 32, 32), engine.ResolvePolicy(null, null), InferenceMode.Full, null, 0);

    private sealed class ThreadSink : IFrameEventSink
    {
        public List<int> Threads { get; } = [];

        public ManualResetEventSlim Final { get; } = new();

        public void OnEvent(ExitEvent exitEvent)
        {
            lock (Threads)
            {
                Threads.Add(Environment.CurrentManagedThreadId);
            }

            if (exitEvent.IsFinal)
            {
                Final.Set();
            }
        }

        public void OnCancelled() => Final.Set();
    }
}
