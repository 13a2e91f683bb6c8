using DfbNet.Runtime.ExecutionProviders;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.Tests.ExecutionProviders;

/// <summary>
/// Stands in for the CUDA provider with graph capture: real CPU sessions whose tensors live in <see cref="HostMemory"/>,
/// and which check what a captured graph needs, that every run goes through one of the graphs' bindings (one per batch
/// bucket), whose tensors never move (a replay reads the captured addresses). Faults can be injected, and stages named in <see cref="RefuseCaptureOf"/>
/// refuse capture, as CUDA does when a run waits on the device or leaves the stream while it is captured.
/// </summary>
internal sealed class GraphCapturingProvider : IExecutionProvider
{
    private readonly GraphCapturingProvider _root;
    private int _calls;
    private int _violations;

    public GraphCapturingProvider()
    {
        _root = this;
        CapturesGraphs = true;
    }

    /// <summary>The capture-less twin; counts and faults are shared with <paramref name="root"/>.</summary>
    private GraphCapturingProvider(GraphCapturingProvider root)
    {
        _root = root;
    }

    public string Name => "FakeGPU";

    public bool CapturesGraphs { get; }

    private volatile bool _failing;

    /// <summary>While true, every run of this provider's sessions throws, as a failing GPU would.</summary>
    public bool Failing
    {
        get => _root._failing;
        set => _root._failing = value;
    }

    /// <summary>File names of stages whose capture fails.</summary>
    public HashSet<string> RefuseCaptureOf { get; } = [];

    /// <summary>File names of stages whose captured graph does nothing when replayed (as when a provider ran its work on
    /// a stream other than the one it was given).</summary>
    public HashSet<string> EmptyGraphOf { get; } = [];

    /// <summary>Runs that reached a session of this provider (or of its capture-less twin).</summary>
    public int Calls => Volatile.Read(ref _root._calls);

    /// <summary>Runs that broke the fixed-binding rule: a plain run, or a run over another binding.</summary>
    public int Violations => Volatile.Read(ref _root._violations);

    public IExecutionProvider WithoutGraphCapture() => CapturesGraphs ? new GraphCapturingProvider(_root) : this;

    public bool TryAppendTo(SessionOptions options, out string? reason)
    {
        reason = null;
        return true;
    }

    public StageSession CreateSession(string modelPath, SessionOptions options)
    {
        DeviceStream? stream = null;
        if (CapturesGraphs)
        {
            stream = HostMemory.Instance.CreateStream();
            var file = Path.GetFileName(modelPath);
            if (_root.RefuseCaptureOf.Contains(file) || _root.EmptyGraphOf.Contains(file))
            {
                stream = new FaultyStream(stream, refuses: _root.RefuseCaptureOf.Contains(file));
            }
        }

        return new FakeGpuSession(new InferenceSession(modelPath, options), this, stream);
    }

    private sealed class FakeGpuSession(InferenceSession session, GraphCapturingProvider provider, DeviceStream? stream)
        : StageSession(session, provider.Name, null, stream is null ? null : HostMemory.Instance, stream)
    {
        // One binding per captured graph: batch 1 and each batch bucket.
        private readonly System.Collections.Concurrent.ConcurrentDictionary<OrtIoBinding, byte> _bindings = new();

        public override void Run(RunOptions options, IReadOnlyCollection<string> inputNames, IReadOnlyCollection<OrtValue> inputs, IReadOnlyCollection<string> outputNames, IReadOnlyCollection<OrtValue> outputs)
        {
            Count();
            if (provider.CapturesGraphs)
            {
                Interlocked.Increment(ref provider._root._violations);
            }

            base.Run(options, inputNames, inputs, outputNames, outputs);
        }

        public override void Run(RunOptions options, OrtIoBinding binding)
        {
            Count();
            if (provider.CapturesGraphs && _bindings.TryAdd(binding, 0) && _bindings.Count > 1 + StageRunner.CaptureBuckets.Length)
            {
                Interlocked.Increment(ref provider._root._violations);
            }

            base.Run(options, binding);
        }

        private void Count()
        {
            Interlocked.Increment(ref provider._root._calls);
            if (provider.Failing)
            {
                throw new InvalidOperationException("injected GPU fault");
            }
        }
    }

    /// <summary>A stream whose captures fail, as a real one does when the captured run waits on the device, or whose
    /// replays do nothing.</summary>
    private sealed class FaultyStream(DeviceStream inner, bool refuses) : DeviceStream
    {
        public override IntPtr Handle => inner.Handle;

        public override void Upload(DeviceBuffer destination, ReadOnlySpan<float> source) => inner.Upload(destination, source);

        public override void Copy(DeviceBuffer destination, DeviceBuffer source) => inner.Copy(destination, source);

        public override void Copy(DeviceBuffer destination, int destinationOffset, DeviceBuffer source, int sourceOffset, int count) =>
            inner.Copy(destination, destinationOffset, source, sourceOffset, count);

        public override void Download(Span<float> destination, DeviceBuffer source) => inner.Download(destination, source);

        public override CapturedGraph Capture(Action work) => refuses
            ? throw new GraphCaptureException("cudaStreamEndCapture failed: operation not permitted when stream is capturing")
            : inner.Capture(work);

        public override void Launch(CapturedGraph graph)
        {
            if (refuses)
            {
                inner.Launch(graph);
            }
        }

        public override void Synchronize() => inner.Synchronize();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
        }
    }
}
