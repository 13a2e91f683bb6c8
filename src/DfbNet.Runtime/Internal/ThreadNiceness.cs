using System.Runtime.InteropServices;

namespace DfbNet.Runtime.Internal;

/// <summary>
/// Lowers the calling thread's CPU priority (its nice value; Linux schedules threads one by one), so that under
/// saturation the threads that read frames, refuse them and write answers run before the executors' stage runs. .NET's
/// <see cref="Thread.Priority"/> does nothing on Linux for an unprivileged process; raising a nice value needs no privilege.
/// </summary>
internal static partial class ThreadNiceness
{
    private const int PrioProcess = 0;

    /// <summary>Sets the calling thread's nice value to <paramref name="nice"/> (0..19); false where it could not (not Linux).</summary>
    public static bool TryLowerCurrentThread(int nice)
    {
        if (nice <= 0 || !OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return SetPriority(PrioProcess, GetThreadId(), nice) == 0;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetThreadId();

    [LibraryImport("libc", EntryPoint = "setpriority")]
    private static partial int SetPriority(int which, int who, int priority);
}
