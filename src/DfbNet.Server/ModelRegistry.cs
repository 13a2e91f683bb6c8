using DfbNet.Core.Manifest;
using DfbNet.Runtime;
using DfbNet.Runtime.ExecutionProviders;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Runtime.Scheduling;
using DfbNet.Server.Internal;
using Microsoft.Extensions.Options;

namespace DfbNet.Server;

/// <summary>Every model folder under the model root, loaded at start-up and addressed by name. Owns the engines.</summary>
public sealed class ModelRegistry : IDisposable
{
    private readonly Dictionary<string, EarlyExitEngine> _models;

    public ModelRegistry(IOptions<DfbNetServerOptions> options, ILoggerFactory loggerFactory, IHostEnvironment environment, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        var settings = options.Value;
        var logger = loggerFactory.CreateLogger<ModelRegistry>();
        Root = ModelRootLocator.Resolve(settings.ModelRoot, environment.ContentRootPath);
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
                Executors = settings.Executors,
                QualityLadder = ParseLadder(settings.QualityLadder),
            },
        };

        var folders = Directory.EnumerateDirectories(Root)
            .Where(d => File.Exists(Path.Combine(d, ModelManifest.FileName)))
            .OrderBy(d => d, StringComparer.Ordinal)
            .ToList();
        var names = folders.Select(Path.GetFileName).ToList();
        if (!names.Contains(settings.DefaultModel, StringComparer.Ordinal))
        {
            throw new InvalidOperationException(
                $"DfbNet:DefaultModel '{settings.DefaultModel}' is not a model folder under {Root} " +
                $"(found: {(names.Count == 0 ? "none" : string.Join(", ", names))}). A model folder holds a manifest.json.");
        }

        _models = new Dictionary<string, EarlyExitEngine>(StringComparer.Ordinal);
        try
        {
            var engineLogger = loggerFactory.CreateLogger<EarlyExitEngine>();
            foreach (var folder in folders)
            {
                var engine = EarlyExitEngine.Load(folder, engineOptions, engineLogger);
                _models.Add(engine.Name, engine);
            }
        }
        catch
        {
            Dispose();
            throw;
        }

        DefaultModel = settings.DefaultModel;
        ServerLog.ModelsLoaded(logger, string.Join(", ", _models.Keys), Root, DefaultModel);
    }

    /// <summary>The resolved model root folder.</summary>
    public string Root { get; }

    public string DefaultModel { get; }

    public IReadOnlyCollection<string> Names => _models.Keys;

    /// <summary>The engine for <paramref name="name"/>, or the default model when it is empty.</summary>
    public bool TryGet(string? name, out EarlyExitEngine engine) =>
        _models.TryGetValue(string.IsNullOrEmpty(name) ? DefaultModel : name, out engine!);

    /// <summary>The engine for <paramref name="name"/> (the default model when empty), or NOT_FOUND naming the models served.</summary>
    /// <exception cref="Grpc.Core.RpcException">NOT_FOUND.</exception>
    public EarlyExitEngine GetOrThrow(string? name) =>
        TryGet(name, out var engine)
            ? engine
            : throw new Grpc.Core.RpcException(new Grpc.Core.Status(Grpc.Core.StatusCode.NotFound, $"Model '{name}' is not served (models: {string.Join(", ", Names)})."));

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
        foreach (var engine in _models.Values)
        {
            engine.Dispose();
        }

        _models.Clear();
    }
}
