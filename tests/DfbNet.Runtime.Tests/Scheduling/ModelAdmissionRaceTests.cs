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

        SpinWait.SpinUntil(() => Interlocked.Read(ref floodAttempts) > 1000);
        var quiet = new AdmissionClient();
        var refused = 0;
        for (var i = 0; i < 200_000; i++)
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
        Assert.True(Interlocked.Read(ref floodAttempts) > 10_000, $"the flood made only {floodAttempts} attempts");
    }
}
