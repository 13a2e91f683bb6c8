using DfbNet.Core;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Testing;

namespace DfbNet.Runtime.Tests.Engine;

/// <summary>Frames and the decode memory budget: a frame waits for its decoded size, and ends once on every path.</summary>
public sealed class DecodeBudgetEngineTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    // A 64x64 PNG for the 32x32 model: its RGBA bitmap and the resized one.
    private static readonly byte[] Png = ImageEncoding.EncodePng(new byte[64 * 64 * 3], 64, 64);
    private const long PngDecodeBytes = (64 * 64 * 4) + (32 * 32 * 4);

    private readonly TestModelFolder _model = new();

    public void Dispose() => _model.Dispose();

    [Fact]
    public async Task Frame_WaitsForDecodeMemory_ThenIsAnswered()
    {
        var budget = new DecodeMemoryBudget(PngDecodeBytes);
        using var engine = Load(budget);
        await budget.AcquireAsync(PngDecodeBytes, CancellationToken.None);

        var answer = engine.ClassifyAsync(Request(engine)).ToListAsync().AsTask();
        await Eventually.HoldsAsync(() => budget.Waiting == 1);
        Assert.False(answer.IsCompleted);
        budget.Release(PngDecodeBytes);
        var events = await answer.WaitAsync(Patience);

        Assert.Equal([1, 2, 3, 0], events.Select(e => e.Exit));
        Assert.True(events[^1].IsFinal);
        Assert.Equal((0L, PngDecodeBytes, 1L), (budget.InUse, budget.Peak, budget.Waited));
        Assert.Equal(1, engine.FramesCompleted);
    }

    [Fact]
    public async Task Frame_CancelledWhileWaitingForDecodeMemory_IsAbandoned_AndTakesNothing()
    {
        var budget = new DecodeMemoryBudget(PngDecodeBytes);
        using var engine = Load(budget);
        await budget.AcquireAsync(PngDecodeBytes, CancellationToken.None);
        using var cts = new CancellationTokenSource();

        var answer = engine.ClassifyAsync(Request(engine), cts.Token).ToListAsync().AsTask();
        await Eventually.HoldsAsync(() => budget.Waiting == 1);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => answer.WaitAsync(Patience));
        await Eventually.HoldsAsync(() => engine.InFlightFrames == 0);
        Assert.Equal((1L, 0L, 0), (engine.FramesCancelled, engine.FramesCompleted, engine.Admission.Admitted));
        Assert.Equal((PngDecodeBytes, 0), (budget.InUse, budget.Waiting));
        budget.Release(PngDecodeBytes);
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public async Task Frame_WaitingForDecodeMemoryWhenTheModelStops_EndsUnavailable()
    {
        var budget = new DecodeMemoryBudget(PngDecodeBytes);
        var engine = Load(budget);
        await budget.AcquireAsync(PngDecodeBytes, CancellationToken.None);

        var answer = engine.ClassifyAsync(Request(engine)).ToListAsync().AsTask();
        await Eventually.HoldsAsync(() => budget.Waiting == 1);
        engine.Dispose();
        budget.Release(PngDecodeBytes);
        var events = await answer.WaitAsync(Patience);

        var final = Assert.Single(events);
        Assert.Equal((ExitKind.Error, FrameErrorCode.Unavailable), (final.Kind, final.ErrorCode));
        Assert.Contains("shutting down", final.Error, StringComparison.Ordinal);
        Assert.Equal((0L, 0), (budget.InUse, engine.InFlightFrames));
    }

    [Fact]
    public async Task ImageLargerThanTheWholeBudget_IsRefusedAtOnce_WithResourceExhausted()
    {
        var budget = new DecodeMemoryBudget(PngDecodeBytes - 1);
        using var engine = Load(budget);

        var events = await engine.ClassifyAsync(Request(engine)).ToListAsync().AsTask().WaitAsync(Patience);

        var final = Assert.Single(events);
        Assert.Equal((ExitKind.Error, FrameErrorCode.ResourceExhausted), (final.Kind, final.ErrorCode));
        Assert.Contains($"decodes to {PngDecodeBytes} bytes", final.Error, StringComparison.Ordinal);
        Assert.Contains("DfbNet:DecodeMemoryBytes", final.Error, StringComparison.Ordinal);
        Assert.Equal((0L, 0L), (budget.Peak, budget.Waited));
    }

    private EarlyExitEngine Load(DecodeMemoryBudget budget) =>
        EarlyExitEngine.Load(_model.Path, new EngineOptions { IntraOpThreads = 1, WarmupRuns = 1, DecodeBudget = budget });

    private static FrameRequest Request(EarlyExitEngine engine) => new("f", ImageSource.Encoded(Png), engine.DefaultPolicy, InferenceMode.Full, null, 0);
}
