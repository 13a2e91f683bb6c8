using System.Diagnostics;
using System.Globalization;

namespace DfbNet.Cli.Load;

/// <summary>CPU time used by a process so far, and its resident memory: another one's from /proc (Linux), this one's
/// from the runtime.</summary>
internal static class ProcessCpu
{
    /// <summary>
    /// /proc/PID/stat counts in clock ticks of USER_HZ, which the kernel fixes at 100 per second for user space on every
    /// architecture .NET runs on (sysconf(_SC_CLK_TCK)); the runtime exposes no call for it.
    /// </summary>
    private const double TicksPerSecond = 100;

    /// <summary>utime + stime of process <paramref name="pid"/>; false with a reason when it cannot be read.</summary>
    public static bool TryReadProcessCpu(int pid, out TimeSpan cpu, out string? error)
    {
        cpu = TimeSpan.Zero;
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error = $"no such process on this machine (/proc/{pid}/stat cannot be read: {ex.GetType().Name}).";
            return false;
        }

        // Fields after the command name, which is in parentheses and may itself hold spaces and ')': the last ')' ends it.
        // There, field 3 (state) is index 0, so utime (field 14) is index 11 and stime (field 15) index 12.
        var fields = text[(text.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 13
            || !long.TryParse(fields[11], NumberStyles.Integer, CultureInfo.InvariantCulture, out var utime)
            || !long.TryParse(fields[12], NumberStyles.Integer, CultureInfo.InvariantCulture, out var stime))
        {
            error = $"/proc/{pid}/stat does not have the expected fields.";
            return false;
        }

        cpu = TimeSpan.FromSeconds((utime + stime) / TicksPerSecond);
        error = null;
        return true;
    }

    /// <summary>The resident set size of process <paramref name="pid"/> in bytes (VmRSS of /proc/PID/status); false when
    /// it cannot be read (the process has gone).</summary>
    public static bool TryReadRss(int pid, out long bytes)
    {
        bytes = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                // "VmRSS:     123456 kB"
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)
                    && long.TryParse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var kb))
                {
                    bytes = kb * 1024;
                    return true;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        return false;
    }

    /// <summary>CPU time of this process (the load generator), user and kernel.</summary>
    public static TimeSpan Own()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }
}
