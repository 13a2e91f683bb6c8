using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using TorchSharp;

namespace DfbNet.Training.Native;

/// <summary>
/// Loads TorchSharp's native libraries before the first TorchSharp call, working around what the NuGet packages
/// get wrong on our machines (see docs/TRAINING.md):
/// <list type="bullet">
/// <item>TorchSharp 0.107's <c>libLibTorchSharp.so</c> needs <c>GLIBCXX_3.4.32</c> for one empty function; where
/// libstdc++ lacks it (Debian 12), a patched copy (the version marked weak) is loaded after a tiny library that
/// defines the function, built once with g++ and cached.</item>
/// <item>CUDA comes from an installed PyTorch's <c>torch/lib</c> (<c>--libtorch DIR</c> or <c>DFBNET_LIBTORCH</c>),
/// because the package feed serves no CUDA build of libtorch.</item>
/// </list>
/// Call <see cref="EnsureLoaded"/> once per process before touching <c>torch</c>; later calls are no-ops.
/// </summary>
public static class TorchNative
{
    /// <summary>Environment variable naming a PyTorch <c>torch/lib</c> folder to load libtorch (and CUDA) from.</summary>
    public const string LibTorchEnvironmentVariable = "DFBNET_LIBTORCH";

    private const string MissingVersion = "GLIBCXX_3.4.32";
    private const string MissingSymbol = "_ZSt21ios_base_library_initv";
    private const string CompatSource = "// Defines the one GLIBCXX_3.4.32 symbol libLibTorchSharp.so needs; in GCC 13 it is empty too.\nnamespace std { void ios_base_library_init() {} }\n";
    private const int RtldNow = 0x2;
    private const int RtldGlobal = 0x100;

    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, IntPtr> Handles = new(StringComparer.Ordinal);
    private static bool _loaded;

    /// <summary>True once <see cref="EnsureLoaded"/> initialised CUDA from a PyTorch install.</summary>
    public static bool CudaInitialized { get; private set; }

    /// <summary>What was done, for logs: "native", "patched GLIBCXX", or the libtorch folder.</summary>
    public static string Description { get; private set; } = "not loaded";

    /// <summary>Loads the native side of TorchSharp, patching or redirecting it as this machine requires.</summary>
    /// <param name="libTorchDirectory">A PyTorch <c>torch/lib</c> folder; when null, <see cref="LibTorchEnvironmentVariable"/> is read; when both are absent the bundled CPU libtorch is used.</param>
    public static void EnsureLoaded(string? libTorchDirectory = null)
    {
        lock (Gate)
        {
            if (_loaded)
            {
                return;
            }

            libTorchDirectory ??= Environment.GetEnvironmentVariable(LibTorchEnvironmentVariable);
            if (string.IsNullOrWhiteSpace(libTorchDirectory))
            {
                libTorchDirectory = null;
            }

            if (OperatingSystem.IsLinux())
            {
                try
                {
                    LoadLinux(libTorchDirectory);
                }
                catch (Exception ex) when (ex is FileNotFoundException or DllNotFoundException or BadImageFormatException)
                {
                    throw new LibTorchUnavailableException($"TorchSharp's native libraries could not be loaded: {ex.Message}", ex);
                }
            }

            if (libTorchDirectory is not null)
            {
                torch.InitializeDeviceType(DeviceType.CUDA);
                CudaInitialized = torch.cuda.is_available();
            }

            _loaded = true;
        }
    }

    private static void LoadLinux(string? libTorchDirectory)
    {
        var original = FindLibTorchSharp();
        var needsFix = !LibStdCxxHas(MissingSymbol, MissingVersion);
        if (!needsFix && libTorchDirectory is null)
        {
            Description = "native (libstdc++ has " + MissingVersion + ")";
            return;
        }

        var torchLibDirectory = libTorchDirectory ?? Path.GetDirectoryName(original)!;
        string[] torchLibraries = libTorchDirectory is null
            ? ["c10", "torch_cpu", "torch"]
            : ["c10", "torch_cpu", "torch", "c10_cuda", "torch_cuda"];

        // The patched copy lives in a cache folder, where its RUNPATH ($ORIGIN) cannot find libtorch: load libtorch
        // first by full path, so the loader matches LibTorchSharp's NEEDED entries by soname.
        foreach (var name in torchLibraries)
        {
            var path = Path.Combine(torchLibDirectory, $"lib{name}.so");
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"libtorch library lib{name}.so not found in {torchLibDirectory}.", path);
            }

            Handles[name] = NativeLibrary.Load(path);
        }

        var libTorchSharp = original;
        if (needsFix)
        {
            var cache = CacheDirectory(original);
            var compat = EnsureCompatLibrary(cache);
            if (Dlopen(compat, RtldNow | RtldGlobal) == IntPtr.Zero)
            {
                throw new InvalidOperationException($"dlopen of {compat} failed: {Marshal.PtrToStringUTF8(Dlerror())}");
            }

            libTorchSharp = EnsurePatchedCopy(original, cache);
            Description = $"patched {MissingVersion} (copy in {cache})";
        }
        else
        {
            Description = "native";
        }

        if (libTorchDirectory is not null)
        {
            Description += $", libtorch from {libTorchDirectory}";
        }

        Handles["LibTorchSharp"] = NativeLibrary.Load(libTorchSharp);

        // TorchSharp resolves "LibTorchSharp" (its DllImports) and probes libtorch by name; both must land on the
        // handles loaded above, never on the unpatched file or on a second libtorch beside the assembly.
        NativeLibrary.SetDllImportResolver(typeof(torch).Assembly, Resolve);
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        var name = Path.GetFileName(libraryName);
        if (name.EndsWith(".so", StringComparison.Ordinal))
        {
            name = name[..^3];
        }

        if (name.StartsWith("lib", StringComparison.Ordinal) && !name.Equals("libLibTorchSharp", StringComparison.Ordinal))
        {
            name = name[3..];
        }
        else if (name.Equals("libLibTorchSharp", StringComparison.Ordinal))
        {
            name = "LibTorchSharp";
        }

        return Handles.GetValueOrDefault(name);
    }

    private static string FindLibTorchSharp()
    {
        const string file = "libLibTorchSharp.so";
        var baseDir = AppContext.BaseDirectory;
        string[] candidates =
        [
            Path.Combine(baseDir, file),
            Path.Combine(baseDir, "runtimes", "linux-x64", "native", file),
            Path.Combine(Path.GetDirectoryName(typeof(torch).Assembly.Location) ?? baseDir, file),
        ];
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"{file} not found beside the application ({string.Join(", ", candidates)}); is TorchSharp-cpu referenced?");
    }

    /// <summary>True when the libstdc++ this process loads defines <paramref name="symbol"/> at <paramref name="version"/>.</summary>
    private static bool LibStdCxxHas(string symbol, string version)
    {
        var handle = Dlopen("libstdc++.so.6", RtldNow);
        return handle != IntPtr.Zero && Dlvsym(handle, symbol, version) != IntPtr.Zero;
    }

    private static string CacheDirectory(string original)
    {
        // Keyed by the content of the original so that a TorchSharp upgrade gets a fresh patch.
        var hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(original)))[..16];
        var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        var dir = Path.Combine(root, "dfbnet", "torchsharp-native", hash);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string EnsurePatchedCopy(string original, string cache)
    {
        var patched = Path.Combine(cache, "libLibTorchSharp.so");
        if (File.Exists(patched))
        {
            return patched;
        }

        var bytes = File.ReadAllBytes(original);
        ElfVersionPatcher.MarkVersionWeak(bytes, MissingVersion);
        WriteAtomically(patched, tmp => File.WriteAllBytes(tmp, bytes));
        return patched;
    }

    private static string EnsureCompatLibrary(string cache)
    {
        var library = Path.Combine(cache, "libglibcxx_compat.so");
        if (File.Exists(library))
        {
            return library;
        }

        var source = Path.Combine(cache, "glibcxx_compat.cc");
        File.WriteAllText(source, CompatSource);
        WriteAtomically(library, tmp =>
        {
            var start = new ProcessStartInfo("g++", ["-shared", "-fPIC", "-O2", "-o", tmp, source])
            {
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            Process process;
            try
            {
                process = Process.Start(start) ?? throw new InvalidOperationException("g++ did not start.");
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                throw new InvalidOperationException(
                    $"This machine's libstdc++ lacks {MissingVersion}, which TorchSharp needs; the workaround builds a one-line library with g++, which was not found. Install g++ (Debian: build-essential).", ex);
            }

            using (process)
            {
                var error = process.StandardError.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode != 0)
                {
                    throw new InvalidOperationException($"g++ failed to build the {MissingVersion} compatibility library: {error}");
                }
            }
        });
        return library;
    }

    // Parallel test hosts may race to create the same cache entry: write beside it, then rename (atomic on one file system).
    private static void WriteAtomically(string path, Action<string> write)
    {
        var tmp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            write(tmp);
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp))
            {
                File.Delete(tmp);
            }
        }
    }

    [DllImport("libc.so.6", EntryPoint = "dlopen", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern IntPtr Dlopen(string path, int flags);

    [DllImport("libc.so.6", EntryPoint = "dlvsym", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern IntPtr Dlvsym(IntPtr handle, string symbol, string version);

    [DllImport("libc.so.6", EntryPoint = "dlerror")]
    private static extern IntPtr Dlerror();
}

/// <summary>libtorch or TorchSharp's native library is missing or unloadable here; the message says which.</summary>
public sealed class LibTorchUnavailableException : Exception
{
    public LibTorchUnavailableException()
    {
    }

    public LibTorchUnavailableException(string message)
        : base(message)
    {
    }

    public LibTorchUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
