using System.Diagnostics;
using DfbNet.Core;
using DfbNet.Runtime.Scheduling;

namespace DfbNet.Runtime.Tests.Scheduling;

/// <summary>Admission decided under contention: a refused frame never holds a slot, even for a moment.</summary>
public sealed class ModelAdmissionRaceTests
{
    [Fact]
    public async Task QuietClient_IsNeverRefused_WhileAFloodIsRefusedOnAnotherThread()
    {
        // The flood holds the whole bound of 4; each of its frames is refused (its share). The quiet client holds none
        // and is admitted into the reserve (the fifth slot) every time, however the flood's attempts interleave.
        var admission = new ModelAdmission(4);
        var flood = new AdmissionClient();
        for (var i = 0; i < 4; i++)
        {
            Assert.True(admission.TryAdmit(flood, out _));
        }

        using var stop = new CancellationTokenSource();
        long floodAttempts = 0;
        var flooding = Task.Factory.StartNew(
            () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    Assert.False(admission.TryAdmit(flood, out var code));
                    Assert.Equal(FrameErrorCode.ResourceExhausted, code);
                    Interlocked.Increment(ref floodAttempts);
                }
            },
            TaskCreationOptions.LongRunning);

        Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref floodAttempts) > 1000, TimeSpan.FromSeconds(10)), "the other thread did not start");
        var quiet = new AdmissionClient();

        // At least 200,000 quiet frames, and on until the flood has made 20,000 attempts beside them (a loaded machine
        // may deschedule the flood's thread for a while), within 10 s.
        var refused = 0;
        var started = Stopwatch.StartNew();
        for (var i = 0; i < 200_000 || (Interlocked.Read(ref floodAttempts) < 20_000 && started.Elapsed < TimeSpan.FromSeconds(10)); i++)
        {
            if (admission.TryAdmit(quiet, out _))
            {
                admission.Release(quiet);
            }
            else
            {
                refused++;
            }
        }

        await stop.CancelAsync();
        await flooding;
        Assert.Equal(0, refused);
        Assert.Equal(4, admission.Admitted);
    }
}
