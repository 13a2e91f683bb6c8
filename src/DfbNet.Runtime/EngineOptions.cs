using DfbNet.Runtime.ExecutionProviders;

namespace DfbNet.Runtime;

/// <summary>Settings for loading and running a model.</summary>
public sealed class EngineOptions
{
    /// <summary>The providers to try, in order. Default: CPU.</summary>
    public ExecutionProviderChain Providers { get; set; } = ExecutionProviderChain.CpuOnly;

    /// <summary>ONNX Runtime intra-op threads per session; 0 lets ONNX Runtime choose (all cores).</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>Runs of each stage at load time, so that the latency estimates start from measurements.</summary>
    public int WarmupRuns { get; set; } = 3;

    /// <summary>Largest decoded image accepted, in pixels (width * height).</summary>
    public long MaxImagePixels { get; set; } = 4096L * 4096L;

    /// <summary>The clock for latencies and budgets; tests pass a fake one.</summary>
    public TimeProvider Clock { get; set; } = TimeProvider.System;
}
