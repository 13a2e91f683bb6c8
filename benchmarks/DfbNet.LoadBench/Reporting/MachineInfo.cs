using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace DfbNet.LoadBench.Reporting;

/// <summary>The machine and the code a run measured: cores (nproc), CPU model, memory, .NET, the date and the commit.</summary>
internal sealed record MachineInfo(string Cores, string Cpu, string Memory, string Runtime, string Date, string Commit)
{
    public static MachineInfo Read(string root)
    {
        var cpu = Lines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) is { } model
            ? model[(model.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()
            : "unknown";
        var memory = Lines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)) is { } total
            && long.TryParse(total.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var kb)
                ? string.Create(CultureInfo.InvariantCulture, $"{kb / 1024.0 / 1024.0:0.0} GiB")
                : "unknown";
        var commit = Run("git", root, "rev-parse", "--short=12", "HEAD") ?? "unknown";
        if (!string.IsNullOrEmpty(Run("git", root, "status", "--porcelain", "--untracked-files=no")))
        {
            commit += " (with uncommitted changes)";
        }

        return new MachineInfo(
            Run("nproc", root) ?? Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture),
            cpu,
            memory,
            RuntimeInformation.FrameworkDescription,
            DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture),
            commit);
    }

    public JsonObject ToJson() => new()
    {
        ["nproc"] = Cores,
        ["cpu"] = Cpu,
        ["memory"] = Memory,
        ["runtime"] = Runtime,
        ["date"] = Date,
        ["commit"] = Commit,
    };

    private static string[] Lines(string path)
    {
        try
        {
            return File.ReadAllLines(path);
        }
        catch (IOException)
        {
            return [];
        }
    }

    /// <summary>A short command's trimmed output, or null when it cannot run or fails.</summary>
    private static string? Run(string program, string directory, params string[] args)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory, UseShellExecute = false });
            if (process is null)
            {
                return null;
            }

            var output = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(10_000))
            {
                process.Kill();
                return null;
            }

            return process.ExitCode == 0 ? output.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
