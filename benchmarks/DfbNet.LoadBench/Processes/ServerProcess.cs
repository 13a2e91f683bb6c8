using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace DfbNet.LoadBench.Processes;

/// <summary>
/// A dfbnet-server process on a free loopback port (127.0.0.1 only), started with given settings and stopped on
/// dispose whatever happened: SIGTERM, then a kill if it has not exited within <see cref="StopTimeout"/>. Its output
/// goes to a log file.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    /// <summary>Longest wait for "Application started" (model load and warm-up included).</summary>
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);

    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    private const string ReadyLine = "Application started";

    /// <summary>What the host logs when it begins to stop (Microsoft.Hosting.Lifetime).</summary>
    private const string StoppingLine = "Application is shutting down";

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Lock _gate = new();
    private readonly Queue<string> _tail = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _closed;
    private volatile bool _stopping;
    private volatile bool _interrupted;

    private ServerProcess(Process process, StreamWriter log, string address)
    {
        _process = process;
        _log = log;
        Address = address;
    }

    public string Address { get; }

    public int Pid => _process.Id;

    /// <summary>The server began to stop, or exited, before this object stopped it: a signal from another process (a
    /// colleague's clean-up, say). Runs made meanwhile do not measure it.</summary>
    public bool Interrupted => _interrupted;

    /// <summary>Starts the server and waits until it serves.</summary>
    /// <exception cref="BenchException">It exited or did not become ready in time; the message has its last lines.</exception>
    public static async Task<ServerProcess> StartAsync(BenchPaths paths, ServerSettings settings, string logPath, CancellationToken cancellationToken)
    {
        var address = $"http://127.0.0.1:{FreePort()}";
        var start = new ProcessStartInfo(paths.Server)
        {
            WorkingDirectory = paths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(address);
        foreach (var argument in settings.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        await log.WriteLineAsync($"# {paths.Server} --urls {address} {string.Join(' ', settings.Arguments)}");
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var server = new ServerProcess(process, log, address);
        process.OutputDataReceived += (_, e) => server.Line(e.Data);
        process.ErrorDataReceived += (_, e) => server.Line(e.Data);
        process.Exited += (_, _) => server._interrupted |= !server._stopping;
        process.Exited += (_, _) => server._ready.TrySetException(new BenchException($"dfbnet-server exited with code {process.ExitCode} before it was ready. Its last lines:\n{server.Tail()}\n(log: {logPath})"));
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            await log.DisposeAsync();
            process.Dispose();
            throw new BenchException($"cannot start '{paths.Server}': {ex.Message}");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server._ready.Task.WaitAsync(ReadyTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            await server.DisposeAsync();
            throw new BenchException($"dfbnet-server did not log '{ReadyLine}' within {ReadyTimeout.TotalSeconds:0} s. Its last lines:\n{server.Tail()}\n(log: {logPath})");
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        try
        {
            if (!_process.HasExited)
            {
                Terminate(_process.Id);
                using var wait = new CancellationTokenSource(StopTimeout);
                try
                {
                    await _process.WaitForExitAsync(wait.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync(CancellationToken.None);
                }
            }
        }
        catch (InvalidOperationException)
        {
            // It was never started, or has gone already.
        }
        finally
        {
            _process.Dispose();
            lock (_gate)
            {
                _closed = true;
                _log.Dispose();
            }
        }
    }

    /// <summary>A free loopback port: one the system hands out, released for the server to bind.</summary>
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>SIGTERM, so that the server shuts down as it would under a supervisor (the runtime has no call for it).</summary>
    private static void Terminate(int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false });
        kill?.WaitForExit(5000);
    }

    private void Line(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            if (!_closed)
            {
                _log.WriteLine(line);
            }

            _tail.Enqueue(line);
            if (_tail.Count > 20)
            {
                _tail.Dequeue();
            }
        }

        if (line.Contains(ReadyLine, StringComparison.Ordinal))
        {
            _ready.TrySetResult();
        }
        else if (!_stopping && line.Contains(StoppingLine, StringComparison.Ordinal))
        {
            _interrupted = true;
        }
    }

    private string Tail()
    {
        lock (_gate)
        {
            return string.Join('\n', _tail);
        }
    }
}
