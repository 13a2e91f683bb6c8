using System.Diagnostics.Metrics;
using DfbNet.Core;
using DfbNet.Runtime.ExecutionProviders;
using DfbNet.Runtime.Preprocessing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.Tests.ExecutionProviders;

/// <summary>A provider whose sessions are real CPU sessions that fail on demand, standing in for a failing GPU.</summary>
internal sealed class FaultInjectingProvider : IExecutionProvider
{
    public volatile bool Failing;
    private int _calls;

    public string Name => "FaultyGPU";

    public int Calls => Volatile.Read(ref _calls);

    public bool TryAppendTo(SessionOptions options, out string? reason)
    {
        reason = null;
        return true;
    }

    public StageSession CreateSession(string modelPath, SessionOptions options) => new FaultySession(new InferenceSession(modelPath, options), this);

    private sealed class FaultySession(InferenceSession session, FaultInjectingProvider provider) : StageSession(session, provider.Name, null)
    {
        public override void Run(RunOptions options, IReadOnlyCollection<string> inputNames, IReadOnlyCollection<OrtValue> inputs, IReadOnlyCollection<string> outputNames, IReadOnlyCollection<OrtValue> outputs)
        {
            Interlocked.Increment(ref provider._calls);
            if (provider.Failing)
            {
                throw new InvalidOperationException("injected GPU fault");
            }

            base.Run(options, inputNames, inputs, outputNames, outputs);
        }
    }
}

public sealed class CircuitBreakerTests : IDisposable
{
    private readonly TestModelFolder _model = new(new() { InputSize = 16, StageWidths = [4, 8], BranchWidth = 4 });

    public void Dispose() => _model.Dispose();

    [Fact]
    public async Task Breaker_MovesFailingProviderTrafficToCpu_AndProbesItBack()
    {
        var faulty = new FaultInjectingProvider();
        var clock = new FakeTimeProvider();
        var logger = new ListLogger();
        var switches = new List<(string From, string To)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RuntimeMetrics.MeterName && instrument.Name == "dfbnet.provider.switches")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            // The meter is process-wide: other tests' engines (the captured-graph fallback test) switch too.
            var d = tags.ToArray().ToDictionary(t => t.Key, t => t.Value);
            if ((int)d["stage"]! == 1 && (Equals(d["from"], "FaultyGPU") || Equals(d["to"], "FaultyGPU")))
            {
                lock (switches)
                {
                    switches.Add(((string)d["from"]!, (string)d["to"]!));
                }
            }
        });
        listener.Start();

        using var reference = EarlyExitEngine.Load(_model.Path, new EngineOptions { WarmupRuns = 0 });
        using var engine = EarlyExitEngine.Load(_model.Path, new EngineOptions
        {
            Providers = new ExecutionProviderChain([faulty, new CpuExecutionProvider()]),
            WarmupRuns = 0,
            Clock = clock,
            Breaker = new ProviderBreakerOptions { FailureRatio = 0.5, MinimumThroughput = 2, SamplingDuration = TimeSpan.FromSeconds(30), BreakDuration = TimeSpan.FromSeconds(10) },
        }, logger);
        var stage = engine.Stages[0];
        Assert.Equal("FaultyGPU", stage.Provider);

        // Healthy: the GPU serves.
        await AssertSameAsReference(engine, reference, 0);
        Assert.False(stage.OnFallback);

        // Failing: every frame is still answered (on the CPU), and after two failures the breaker opens.
        faulty.Failing = true;
        await AssertSameAsReference(engine, reference, 1);
        await AssertSameAsReference(engine, reference, 2);
        Assert.True(stage.OnFallback);
        Assert.Equal("CPU", stage.Provider);
        Assert.Contains(logger.Entries, e => e.Id.Id == 104 && e.Message.Contains("from FaultyGPU to CPU", StringComparison.Ordinal));

        // Open: the GPU is not even tried.
        var callsWhileOpen = faulty.Calls;
        await AssertSameAsReference(engine, reference, 3);
        await AssertSameAsReference(engine, reference, 4);
        Assert.Equal(callsWhileOpen, faulty.Calls);

        // After the break the next call probes the GPU; it works again, so the breaker closes.
        faulty.Failing = false;
        clock.Advance(TimeSpan.FromSeconds(11));
        await AssertSameAsReference(engine, reference, 5);
        Assert.False(stage.OnFallback);
        Assert.Equal("FaultyGPU", stage.Provider);
        Assert.True(faulty.Calls > callsWhileOpen);
        Assert.Contains(logger.Entries, e => e.Id.Id == 106);

        listener.RecordObservableInstruments();
        lock (switches)
        {
            Assert.Equal([("FaultyGPU", "CPU"), ("CPU", "FaultyGPU")], switches);
        }
    }

    private static async Task AssertSameAsReference(EarlyExitEngine engine, EarlyExitEngine reference, int image)
    {
        var source = ImageSource.Raw(CifarSlice.Hwc(image), 32, 32);
        var policy = new ExitPolicy([1f, 1f]);
        var expected = new List<ExitEvent>();
        await foreach (var e in reference.ClassifyAsync(new FrameRequest("r", source, policy, InferenceMode.Full, null, 0)))
        {
            expected.Add(e);
        }

        var actual = new List<ExitEvent>();
        await foreach (var e in engine.ClassifyAsync(new FrameRequest("e", source, policy, InferenceMode.Full, null, 0)))
        {
            actual.Add(e);
        }

        Assert.Equal(expected.Select(e => e.Kind), actual.Select(e => e.Kind));
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Prediction!.Probabilities, actual[i].Prediction!.Probabilities);
        }
    }
}
