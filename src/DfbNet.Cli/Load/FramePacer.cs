using System.Diagnostics;
using System.Runtime.InteropServices;

namespace DfbNet.Cli.Load;

/// <summary>
/// Tells each stream's writer when its next frame is due, from one dedicated thread that sleeps with nanosleep(2).
/// </summary>
/// <remarks>
/// Task.Delay and the runtime's timers count whole milliseconds and wake late: on the dev machine a writer paced by
/// Task.Delay started its frames 1.7-1.9 ms after they were due at the median, and that would be added to every latency
/// measured from the schedule (a sizeable part of a 1 ms server time). nanosleep woke 0.09 ms late at the median, and a
/// semaphore hands the moment to the async writer in about 0.02 ms. A writer still busy with an earlier frame (HTTP/2
/// flow control) finds the semaphore's count raised and sends its overdue frames back to back; the count is at most the
/// frames of the schedule, so nothing here grows without bound.
/// </remarks>
internal sealed class FramePacer : IAsyncDisposable
{
    /// <summary>The longest single sleep, so that cancellation is seen within this long.</summary>
    private const long MaxSleepNanoseconds = 50_000_000;

    private readonly IReadOnlyList<double[]> _schedules;
    private readonly long _start;
    private readonly SemaphoreSlim[] _due;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="schedules">Each stream's due times, in seconds from <paramref name="start"/>, ascending.</param>
    /// <param name="start">The <see cref="Stopwatch"/> timestamp of time 0.</param>
    public FramePacer(IReadOnlyList<double[]> schedules, long start)
    {
        _schedules = schedules;
        _start = start;
        _due = schedules.Select(_ => new SemaphoreSlim(0)).ToArray();
    }

    /// <summary>The <see cref="Stopwatch"/> timestamp at which frame <paramref name="seq"/> of <paramref name="stream"/> is due.</summary>
    public long Due(int stream, int seq) => _start + (long)(_schedules[stream][seq] * Stopwatch.Frequency);

    /// <summary>Starts the pacing thread; it ends after the last frame, or when <paramref name="cancellationToken"/> or disposal stops it.</summary>
    public void Start(CancellationToken cancellationToken)
    {
        var token = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        var thread = new Thread(() =>
        {
            try
            {
                Run(token.Token);
            }
            finally
            {
                token.Dispose();
                _exited.TrySetResult();
            }
        })
        {
            IsBackground = true,
            Name = "dfbnet load pacer",
        };
        thread.Start();
    }

    /// <summary>Completes when the next frame of <paramref name="stream"/> is due (at once if it is overdue).</summary>
    public Task WaitAsync(int stream, CancellationToken cancellationToken) => _due[stream].WaitAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        // The thread must be gone before the semaphores it releases are disposed.
        await _stop.CancelAsync();
        await _exited.Task;
        foreach (var semaphore in _due)
        {
            semaphore.Dispose();
        }

        _stop.Dispose();
    }

    private void Run(CancellationToken cancellationToken)
    {
        // The streams' next frames, earliest first: one entry per stream, so the queue holds at most that many.
        var queue = new PriorityQueue<int, long>();
        var next = new int[_schedules.Count];
        for (var s = 0; s < _schedules.Count; s++)
        {
            if (_schedules[s].Length > 0)
            {
                queue.Enqueue(s, Due(s, 0));
            }
        }

        var request = Marshal.AllocHGlobal(16);
        try
        {
            while (queue.TryDequeue(out var stream, out var due))
            {
                while (true)
                {
                    if (cancellationToken.IsCancellationRequested)
                    {
                        return;
                    }

                    var wait = (due - Stopwatch.GetTimestamp()) * (1_000_000_000.0 / Stopwatch.Frequency);
                    if (wait <= 0)
                    {
                        break;
                    }

                    // struct timespec { time_t tv_sec; long tv_nsec; } on 64-bit Linux. A sleep interrupted by a signal
                    // returns -1 early, which needs no handling: the loop sleeps again for what is left.
                    var ns = (long)Math.Min(wait, MaxSleepNanoseconds);
                    Marshal.WriteInt64(request, 0, ns / 1_000_000_000);
                    Marshal.WriteInt64(request, 8, ns % 1_000_000_000);
                    _ = NanoSleep(request, 0);
                }

                _due[stream].Release();
                if (++next[stream] < _schedules[stream].Length)
                {
                    queue.Enqueue(stream, Due(stream, next[stream]));
                }
            }
        }
        finally
        {
            Marshal.FreeHGlobal(request);
        }
    }

    // DllImport, as DfbNet.Training's libc calls: blittable arguments need no generated marshalling (nor unsafe code).
    [DllImport("libc.so.6", EntryPoint = "nanosleep")]
    private static extern int NanoSleep(nint request, nint remaining);
}
