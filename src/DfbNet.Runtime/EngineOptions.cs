using DfbNet.Runtime.ExecutionProviders;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Runtime.Scheduling;

namespace DfbNet.Runtime;

/// <summary>Settings for loading and running a model.</summary>
public sealed class EngineOptions
{
    /// <summary>The providers to try, in order. Default: CPU.</summary>
    public ExecutionProviderChain Providers { get; set; } = ExecutionProviderChain.CpuOnly;

    /// <summary>ONNX Runtime intra-op threads per session; 0 lets ONNX Runtime choose (all cores). The default, 1, lets
    /// the scheduler's executors (one per core) each run a batch on a core of its own.</summary>
    public int IntraOpThreads { get; set; } = 1;

    /// <summary>Let ONNX Runtime's intra-op threads spin between runs (<c>session.intra_op.allow_spinning</c>). Off: a
    /// spinning pool costs a core per thread at camera frame rates for a few percent at saturation.</summary>
    public bool AllowSpinning { get; set; }

    /// <summary>Admission, batching and executors.</summary>
    public SchedulerOptions Scheduler { get; set; } = new();

    /// <summary>Runs of each stage at load time, so that the latency estimates start from measurements.</summary>
    public int WarmupRuns { get; set; } = 3;

    /// <summary>Largest decoded image accepted, in pixels (width * height).</summary>
    public long MaxImagePixels { get; set; } = 4096L * 4096L;

    /// <summary>The memory that image decodes may hold at once, shared by every engine loaded with these options (and
    /// copies of them), so that a server's models share one bound. Default: <see cref="DecodeMemoryBudget.DefaultBytes"/>.</summary>
    public DecodeMemoryBudget DecodeBudget { get; set; } = new();

    /// <summary>Hand features between stages as bound OrtValues (IOBinding), so that they stay on the GPU. Null: on
    /// when a stage's provider keeps tensors on a device, off on the CPU (where host buffers are as fast).</summary>
    public bool? UseIoBinding { get; set; }

    /// <summary>When a GPU stage's traffic moves to the CPU and back.</summary>
    public ProviderBreakerOptions Breaker { get; set; } = new();

    /// <summary>The clock for latencies, budgets and the breaker; tests pass a fake one.</summary>
    public TimeProvider Clock { get; set; } = TimeProvider.System;

    /// <summary>A copy of these options with another provider chain (every other setting as it is, new ones too).</summary>
    public EngineOptions WithProviders(ExecutionProviderChain providers)
    {
        var copy = (EngineOptions)MemberwiseClone();
        copy.Providers = providers;
        return copy;
    }
}
