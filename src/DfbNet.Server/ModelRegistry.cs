using DfbNet.Core.Manifest;
using DfbNet.Runtime;
using DfbNet.Runtime.ExecutionProviders;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Runtime.Scheduling;
using DfbNet.Server.Internal;
using Microsoft.Extensions.Options;

namespace DfbNet.Server;

/// <summary>
/// The model repository: every model under the model root (<c>NAME/</c> is version 1, <c>NAME/V/</c> version V), the
/// highest version of each loaded at start-up and addressed by name. Versions are loaded, reloaded and unloaded while
/// the server runs (<see cref="LoadAsync"/>, <see cref="UnloadAsync"/>, <see cref="SyncWithDiskAsync"/>); frames hold
/// leases, so a version replaced or unloaded finishes what it took before it is disposed. Owns the engines.
/// </summary>
public sealed class ModelRegistry : IDisposable
{
    private readonly EngineOptions _engineOptions;
    private readonly ILogger _logger;
    private readonly ILogger _engineLogger;
    private readonly SemaphoreSlim _changes = new(1, 1);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Name, long Version), (string Stamp, string Reason)> _failures = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Name, long Version), byte> _loading = new();
    private readonly List<ServedModel> _retired = [];
    private readonly (string Folder, string Name)? _single;

    // Replaced whole on every change (copy on write): readers take a snapshot without a lock.
    private volatile Dictionary<string, ServedModel> _served;

    public ModelRegistry(IOptions<DfbNetServerOptions> options, ILoggerFactory loggerFactory, IHostEnvironment environment, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        var settings = options.Value;
        var logger = loggerFactory.CreateLogger<ModelRegistry>();
        if (!string.IsNullOrWhiteSpace(settings.ModelFolder))
        {
            // One model served alone (KServe mounts it at /mnt/models), under the name clients ask for.
            var folder = Path.GetFullPath(settings.ModelFolder);
            if (!Directory.Exists(folder))
            {
                throw new InvalidOperationException($"DfbNet:ModelFolder '{settings.ModelFolder}' does not exist.");
            }

            _single = (folder, string.IsNullOrWhiteSpace(settings.ModelName) ? Path.GetFileName(folder.TrimEnd(Path.DirectorySeparatorChar)) : settings.ModelName);
            Root = folder;
        }
        else
        {
            Root = ModelRootLocator.Resolve(settings.ModelRoot, environment.ContentRootPath);
        }

        ExecutionProviderChain providers;
        try
        {
            providers = ExecutionProviderChain.Parse(settings.ExecutionProviders, new ExecutionProviderSettings
            {
                DeviceId = settings.DeviceId,
                TensorRtEngineCachePath = string.IsNullOrWhiteSpace(settings.TensorRtEngineCache) ? null : Path.GetFullPath(settings.TensorRtEngineCache),
                TensorRtFp16 = settings.TensorRtFp16,
                CudaGraphs = settings.CudaGraphs,
                CudaProviderOptions = settings.CudaProviderOptions,
            });
        }
        catch (ArgumentException ex)
        {
            throw new InvalidOperationException($"DfbNet:ExecutionProviders: {ex.Message}", ex);
        }

        var engineOptions = new EngineOptions
        {
            Providers = providers,
            UseIoBinding = settings.UseIoBinding,
            Breaker = new ProviderBreakerOptions { BreakDuration = TimeSpan.FromSeconds(settings.ProviderBreakSeconds) },
            IntraOpThreads = settings.IntraOpThreads,
            AllowSpinning = settings.AllowSpinning,
            WarmupRuns = settings.WarmupRuns,
            MaxImagePixels = settings.MaxImagePixels,

            // One budget for every model: the memory bound is the server's, whichever model a frame is for.
            DecodeBudget = new DecodeMemoryBudget(settings.DecodeMemoryBytes),

            // One time source for the server and the engines: a frame's receipt stamp and its budget share it.
            Clock = clock,
            Scheduler = new SchedulerOptions
            {
                MaxBatchSize = settings.MaxBatchSize,
                MaxQueueDelay = TimeSpan.FromMicroseconds(settings.MaxQueueDelayMicroseconds),
                MaxAdmittedFrames = settings.MaxAdmittedFrames,
                MaxExpectedWait = TimeSpan.FromMicroseconds(settings.MaxExpectedWaitMicroseconds),
                Executors = settings.Executors,
                ExecutorNiceness = settings.ExecutorNiceness,
                RunOnCallerWhenIdle = settings.RunOnCallerWhenIdle,
                QualityLadder = ParseLadder(settings.QualityLadder),
            },
        };

        _engineOptions = engineOptions;
        _logger = logger;
        _engineLogger = loggerFactory.CreateLogger<EarlyExitEngine>();
        DefaultModel = _single?.Name ?? settings.DefaultModel;

        var latest = ModelRepositoryFolders.Latest(ScanRepository()).ToList();
        if (_single is { } one && latest.Count == 0)
        {
            throw new InvalidOperationException($"DfbNet:ModelFolder '{one.Folder}' holds no manifest.json, nor version folders (1/, 2/, ...) that do.");
        }

        if (!latest.Any(f => f.Name == DefaultModel))
        {
            throw new InvalidOperationException(
                $"DfbNet:DefaultModel '{settings.DefaultModel}' is not a model folder under {Root} " +
                $"(found: {(latest.Count == 0 ? "none" : string.Join(", ", latest.Select(f => f.Name)))}). A model folder holds a manifest.json, or version folders (1/, 2/, ...) that do.");
        }

        // At start-up every model must load: a bad manifest stops the server (later, a bad version is refused instead).
        var served = new Dictionary<string, ServedModel>(StringComparer.Ordinal);
        try
        {
            foreach (var folder in latest)
            {
                served.Add(folder.Name, new ServedModel(Load(folder), folder));
            }
        }
        catch
        {
            foreach (var model in served.Values)
            {
                model.Engine.Dispose();
            }

            throw;
        }

        _served = served;
        ServerLog.ModelsLoaded(logger, string.Join(", ", served.Values.Select(m => $"{m.Engine.Name} (version {m.Version})")), Root, DefaultModel);
    }

    /// <summary>The resolved model root folder.</summary>
    public string Root { get; }

    public string DefaultModel { get; }

    /// <summary>The models served now.</summary>
    public IReadOnlyCollection<string> Names => _served.Keys;

    /// <summary>The served engine for <paramref name="name"/>, or the default model when it is empty. For a look at the
    /// model (its manifest, statistics); frames take a lease (<see cref="Lease"/>).</summary>
    public bool TryGet(string? name, out EarlyExitEngine engine)
    {
        var found = _served.TryGetValue(string.IsNullOrEmpty(name) ? DefaultModel : name, out var model);
        engine = model?.Engine!;
        return found;
    }

    /// <summary>The engine for <paramref name="name"/> (the default model when empty), or NOT_FOUND naming the models served.</summary>
    /// <exception cref="Grpc.Core.RpcException">NOT_FOUND.</exception>
    public EarlyExitEngine GetOrThrow(string? name) =>
        TryGet(name, out var engine) ? engine : throw NotServed(name);

    /// <summary>The served version of a model, or null.</summary>
    public string? VersionOf(string? name) =>
        _served.TryGetValue(string.IsNullOrEmpty(name) ? DefaultModel : name, out var model) ? model.Version : null;

    /// <summary>A hold on the served version of <paramref name="name"/> (the default model when empty) for a frame or a
    /// call: that version stays loaded until the lease is disposed, whatever reloads or unloads meanwhile.</summary>
    /// <exception cref="Grpc.Core.RpcException">NOT_FOUND.</exception>
    internal ModelLease Lease(string? name)
    {
        var key = string.IsNullOrEmpty(name) ? DefaultModel : name;
        while (_served.TryGetValue(key, out var model))
        {
            // A version retired between the look-up and the lease has been replaced (or removed): look again.
            if (model.TryLease() is { } lease)
            {
                return lease;
            }
        }

        throw NotServed(name);
    }

    /// <summary>Loads a version of a model (the highest on disk unless <paramref name="version"/> names one), warms it up
    /// and serves it in place of the current one, which finishes the frames it took. A version that fails to load is
    /// refused and the current one keeps serving.</summary>
    /// <exception cref="Grpc.Core.RpcException">NOT_FOUND when the model or version is not on disk; FAILED_PRECONDITION
    /// when it does not load (the message names the file and field).</exception>
    internal async Task<string> LoadAsync(string name, long? version, CancellationToken cancellationToken)
    {
        await _changes.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var versions = ScanRepository().Where(f => f.Name == name).ToList();
            var folder = version is { } v ? versions.FirstOrDefault(f => f.Version == v) : versions.MaxBy(f => f.Version);
            if (folder is null)
            {
                throw new Grpc.Core.RpcException(new Grpc.Core.Status(Grpc.Core.StatusCode.NotFound, versions.Count == 0
                    ? $"Model '{name}' is not in the repository {Root}."
                    : $"Model '{name}' has no version {version} in the repository (versions: {string.Join(", ", versions.Select(f => f.Version))})."));
            }

            return await SwapInAsync(folder, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _changes.Release();
        }
    }

    /// <summary>Stops serving a model: new frames are refused NOT_FOUND, frames taken finish first.</summary>
    /// <exception cref="Grpc.Core.RpcException">NOT_FOUND when the model is not served.</exception>
    internal async Task UnloadAsync(string name, CancellationToken cancellationToken)
    {
        await _changes.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_served.ContainsKey(name))
            {
                throw NotServed(name);
            }

            RemoveLocked(name);
        }
        finally
        {
            _changes.Release();
        }
    }

    /// <summary>Makes the served models match the disk (polling): new models and versions load, changed files reload,
    /// removed models unload. A version that failed is not tried again until its files change.</summary>
    internal async Task SyncWithDiskAsync(CancellationToken cancellationToken)
    {
        await _changes.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var latest = ModelRepositoryFolders.Latest(ScanRepository()).ToDictionary(f => f.Name, StringComparer.Ordinal);
            foreach (var folder in latest.Values)
            {
                var current = _served.GetValueOrDefault(folder.Name);
                var failed = _failures.TryGetValue((folder.Name, folder.Version), out var failure) && failure.Stamp == folder.Stamp;
                if (failed || (current is not null && current.Folder.Version == folder.Version && current.Folder.Stamp == folder.Stamp))
                {
                    continue;
                }

                try
                {
                    await SwapInAsync(folder, cancellationToken).ConfigureAwait(false);
                }
                catch (Grpc.Core.RpcException)
                {
                    // Logged and recorded by SwapInAsync; the current version (if any) keeps serving.
                }
            }

            foreach (var name in _served.Keys.Where(n => !latest.ContainsKey(n)).ToList())
            {
                RemoveLocked(name);
            }
        }
        finally
        {
            _changes.Release();
        }
    }

    /// <summary>Every model version on disk with its state (Triton's repository index), plus retired versions still
    /// finishing frames.</summary>
    internal IReadOnlyList<(string Name, string Version, string State, string Reason)> Index()
    {
        var served = _served;
        var entries = new List<(string, string, string, string)>();
        foreach (var folder in ScanRepository())
        {
            var current = served.GetValueOrDefault(folder.Name);
            var key = (folder.Name, folder.Version);
            var (state, reason) = current?.Folder.Version == folder.Version ? ("READY", "")
                : _loading.TryGetValue(key, out _) ? ("LOADING", "")
                : _failures.TryGetValue(key, out var failure) ? ("UNAVAILABLE", failure.Reason)
                : ("UNAVAILABLE", "not loaded");
            entries.Add((folder.Name, folder.VersionText, state, reason));
        }

        lock (_retired)
        {
            _retired.RemoveAll(m => m.Disposed is { IsCompleted: true });
            entries.AddRange(_retired.Select(m => (m.Engine.Name, m.Version, "UNLOADING", "finishing the frames it took")));
        }

        return entries;
    }

    /// <exception cref="Grpc.Core.RpcException">FAILED_PRECONDITION when the version does not load.</exception>
    private async Task<string> SwapInAsync(ModelVersionFolder folder, CancellationToken cancellationToken)
    {
        var key = (folder.Name, folder.Version);
        _loading[key] = 0;
        EarlyExitEngine engine;
        try
        {
            // Loading reads files and runs warm-ups for seconds: not on the caller's thread.
            engine = await Task.Run(() => Load(folder), cancellationToken).ConfigureAwait(false);
            try
            {
                await engine.WarmUpFramesAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                engine.Dispose();
                throw;
            }
        }
        catch (Exception ex) when (ex is ManifestException or IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            var current = _served.GetValueOrDefault(folder.Name);
            _failures[key] = (folder.Stamp, ex.Message);
            ServerLog.ModelLoadFailed(_logger, folder.Name, folder.VersionText, current?.Version ?? "none", ex.Message);
            throw new Grpc.Core.RpcException(new Grpc.Core.Status(Grpc.Core.StatusCode.FailedPrecondition,
                $"Version {folder.Version} of model '{folder.Name}' did not load: {ex.Message}" +
                (current is null ? "" : $" Version {current.Version} keeps serving.")));
        }
        finally
        {
            _loading.TryRemove(key, out _);
        }

        _failures.TryRemove(key, out _);
        var previous = _served.GetValueOrDefault(folder.Name);
        var served = new Dictionary<string, ServedModel>(_served, StringComparer.Ordinal) { [folder.Name] = new ServedModel(engine, folder) };
        _served = served;
        if (previous is not null)
        {
            Retire(previous);
        }

        ServerLog.ModelVersionServed(_logger, folder.Name, folder.VersionText, previous?.Version ?? "none");
        return folder.VersionText;
    }

    /// <summary>Stops serving a model (the caller holds <see cref="_changes"/>); its frames finish first.</summary>
    private void RemoveLocked(string name)
    {
        var model = _served[name];
        var served = new Dictionary<string, ServedModel>(_served, StringComparer.Ordinal);
        served.Remove(name);
        _served = served;
        Retire(model);
        ServerLog.ModelUnloaded(_logger, name, model.Version);
    }

    private void Retire(ServedModel model)
    {
        lock (_retired)
        {
            _retired.Add(model);
        }

        model.Retire();
    }

    /// <summary>The model versions on disk: every model under the root, or the one model of <c>DfbNet:ModelFolder</c>.</summary>
    private IReadOnlyList<ModelVersionFolder> ScanRepository() =>
        _single is { } one ? ModelRepositoryFolders.ScanModel(one.Folder, one.Name) : ModelRepositoryFolders.Scan(Root);

    private EarlyExitEngine Load(ModelVersionFolder folder) => EarlyExitEngine.Load(folder.Folder, _engineOptions, _engineLogger, folder.Name);

    private Grpc.Core.RpcException NotServed(string? name) =>
        new(new Grpc.Core.Status(Grpc.Core.StatusCode.NotFound, string.IsNullOrEmpty(name)
            ? $"The default model '{DefaultModel}' is not served (models: {string.Join(", ", Names)})."
            : $"Model '{name}' is not served (models: {string.Join(", ", Names)})."));

    /// <summary>Parses <c>DfbNet:QualityLadder</c> (<c>0.5=balanced,0.75=fast</c>).</summary>
    /// <exception cref="InvalidOperationException">A rung that is not LOAD=PRESET with LOAD in (0, 1].</exception>
    internal static QualityRung[] ParseLadder(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return [];
        }

        var rungs = new List<QualityRung>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var pair = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (pair.Length != 2 || pair[1].Length == 0
                || !double.TryParse(pair[0], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var load)
                || !(load > 0 && load <= 1))
            {
                throw new InvalidOperationException($"DfbNet:QualityLadder: '{part}' is not LOAD=PRESET with LOAD in (0, 1] (for example 0.5=balanced,0.75=fast).");
            }

            rungs.Add(new QualityRung(load, pair[1]));
        }

        return [.. rungs];
    }

    public void Dispose()
    {
        var served = _served;
        _served = new Dictionary<string, ServedModel>(StringComparer.Ordinal);
        foreach (var model in served.Values)
        {
            Retire(model);
        }

        List<Task> disposals;
        lock (_retired)
        {
            disposals = [.. _retired.Select(m => m.Disposed).OfType<Task>()];
        }

        // Retired versions still leased (an abandoned call's frames) are disposed when their leases end.
        Task.WaitAll([.. disposals], TimeSpan.FromSeconds(10));
        _changes.Dispose();
    }
}
