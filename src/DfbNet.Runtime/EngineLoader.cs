using DfbNet.Core.Manifest;
using DfbNet.Runtime.ExecutionProviders;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime;

/// <summary>Loading a model folder into an engine: the manifest checked, a session per stage on the provider chain, the
/// stage shapes chained, graph capture all or nothing, the warm-up that seeds the estimates.</summary>
internal static class EngineLoader
{
    private static readonly CpuExecutionProvider CpuProvider = new();

    /// <summary>Loads a model folder: validates the manifest, opens every stage on the provider chain, checks that
    /// stage shapes chain, and warms each stage up to seed the latency estimates.</summary>
    /// <exception cref="ManifestException">The manifest or a stage model does not match; the message names the field.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A scheduler setting is out of range; the parameter name is the setting's.</exception>
    public static EarlyExitEngine Load(string modelFolder, EngineOptions options, ILogger logger, string? name = null)
    {
        options.Scheduler.Validate();
        var folder = Path.GetFullPath(modelFolder);
        name ??= Path.GetFileName(folder.TrimEnd(Path.DirectorySeparatorChar));
        var manifest = ManifestLoader.LoadFolder(folder);
        var manifestPath = Path.Combine(folder, ModelManifest.FileName);
        var stages = new List<StageRunner>();
        try
        {
            long[] expectedInput = [3, manifest.Input.Height, manifest.Input.Width];
            for (var s = 0; s < manifest.Stages.Count; s++)
            {
                var spec = manifest.Stages[s];
                var path = Path.Combine(folder, spec.File);
                StageSession session;
                try
                {
                    session = options.Providers.CreateSession(path, o => Configure(o, options), logger);
                }
                catch (OnnxRuntimeException ex)
                {
                    throw new ManifestException(manifestPath, $"stages[{s}].file", $"'{spec.File}' is not a loadable ONNX model: {ex.Message}", ex);
                }

                try
                {
                    var shapes = StageShapes.Check(session.Session, spec, s, manifest.Classes.Count, expectedInput, s == manifest.Stages.Count - 1, manifestPath);
                    RuntimeLog.StageProvider(logger, s + 1, name, session.Provider);
                    RuntimeMetrics.SessionsCreated.Add(1, new KeyValuePair<string, object?>("stage", s + 1), new KeyValuePair<string, object?>("provider", session.Provider));

                    // A GPU stage gets a CPU session to fall back on, created on first need.
                    Func<StageSession>? fallback = session.Provider == CpuProvider.Name
                        ? null
                        : () => ExecutionProviderChain.CpuOnly.CreateSession(path, o => Configure(o, options), logger);
                    stages.Add(new StageRunner(s, spec, session, fallback, options.Breaker, options.Clock, manifest.Classes.Count, expectedInput, shapes.Feature, logger, shapes.MaxBatch, options.Scheduler.MaxBatchSize));
                    expectedInput = shapes.Feature ?? [];
                }
                catch
                {
                    session.Dispose();
                    throw;
                }
            }

            // Captured graphs go all the way or not at all: a frame's feature is either in a device buffer or not.
            if (stages.FirstOrDefault(st => !st.CapturesGraph) is { } uncaptured && stages.Any(st => st.CapturesGraph))
            {
                RuntimeLog.GraphCaptureOff(logger, name, uncaptured.Index + 1, uncaptured.Provider);
                foreach (var stage in stages)
                {
                    stage.Dispose();
                }

                stages.Clear();
                return Load(modelFolder, options.WithProviders(options.Providers.WithoutGraphCapture()), logger);
            }

            foreach (var stage in stages.Where(st => st.CapturesGraph))
            {
                RuntimeLog.StageCapturesGraph(logger, stage.Index + 1, name, stage.Provider);
            }

            var engine = new EarlyExitEngine(name, folder, manifest, [.. stages], options, logger);
            engine.Warmup(options.WarmupRuns);
            RuntimeMetrics.Track(engine);
            if (logger.IsEnabled(LogLevel.Information))
            {
                RuntimeLog.ModelLoaded(logger, name, stages.Count, engine.ExecutionProvider, engine.DescribeEstimates());
            }
            return engine;
        }
        catch
        {
            foreach (var stage in stages)
            {
                stage.Dispose();
            }

            throw;
        }
    }

    private static void Configure(SessionOptions options, EngineOptions engine)
    {
        options.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL;
        options.ExecutionMode = ExecutionMode.ORT_SEQUENTIAL;
        if (engine.IntraOpThreads > 0)
        {
            options.IntraOpNumThreads = engine.IntraOpThreads;
        }

        // Spinning intra-op threads burn a core each between runs; at camera frame rates that is most of the CPU.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", engine.AllowSpinning ? "1" : "0");
    }
}
