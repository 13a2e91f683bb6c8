using DfbNet.Runtime.ExecutionProviders;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.Tests.ExecutionProviders;

/// <summary>
/// Stands in for the CUDA provider with graph capture: real CPU sessions whose tensors live in <see cref="HostMemory"/>,
/// and which check what a captured graph needs, that every run goes through one binding whose tensors never move (a
/// replay reads the captured addresses). Faults can be injected, and stages named in <see cref="RefuseCaptureOf"/>
/// refuse capture as ONNX Runtime does when a node would leave the GPU.
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

    /// <summary>File names of stages for which a capturing session cannot be created.</summary>
    public HashSet<string> RefuseCaptureOf { get; } = [];

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
        if (CapturesGraphs && _root.RefuseCaptureOf.Contains(Path.GetFileName(modelPath)))
        {
            // The one way to get ONNX Runtime's own exception type: a session over a file that is no model.
            _ = new InferenceSession(Array.Empty<byte>(), options);
        }

        return new FakeGpuSession(new InferenceSession(modelPath, options), this);
    }

    private sealed class FakeGpuSession(InferenceSession session, GraphCapturingProvider provider)
        : StageSession(session, provider.Name, null, provider.CapturesGraphs ? HostMemory.Instance : null)
    {
        private OrtIoBinding? _binding;

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
            if (provider.CapturesGraphs && Interlocked.CompareExchange(ref _binding, binding, null) is { } first && !ReferenceEquals(first, binding))
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
}
