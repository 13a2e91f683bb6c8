using DfbNet.Core.Manifest;
using DfbNet.Core.Onnx;
using DfbNet.Runtime;
using Google.Protobuf;

namespace DfbNet.Cli.Import;

/// <summary>One imported stage: the file it came from, its names there, and its names in the model folder.</summary>
internal sealed record ImportedStage(string Source, StageNames From, StageNames To);

/// <summary>What <see cref="ModelImporter.Import"/> wrote.</summary>
internal sealed record ImportResult(ModelManifest Manifest, IReadOnlyList<ImportedStage> Stages);

/// <summary>
/// <c>dfbnet import</c>'s pipeline: open every file on the CPU, tell its input and outputs apart and check that the
/// stages chain (<see cref="StageChain"/>), give them names that chain (<c>image</c>, <c>logits{s}</c>,
/// <c>feature{s}</c>, as an export writes), check each renamed copy against its file (<see cref="CopyParity"/>), write
/// the model folder with the validated manifest, and load it as the server does.
/// </summary>
internal static class ModelImporter
{
    private const string ImageName = "image";

    /// <exception cref="ImportException">A file does not fit; the message names it.</exception>
    /// <exception cref="ManifestException">The written folder does not load as the server loads it.</exception>
    public static ImportResult Import(ImportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var graphs = new List<ImportedGraph>();
        try
        {
            for (var s = 0; s < options.Stages.Count; s++)
            {
                graphs.Add(ImportedGraph.Open(options.Stages[s], $"stage {s + 1} ({options.Stages[s]})"));
            }

            var baseline = options.Baseline is { } path ? ImportedGraph.Open(path, $"--baseline ({path})") : null;
            if (baseline is not null)
            {
                graphs.Add(baseline);
            }

            var stages = graphs.Take(options.Stages.Count).ToList();
            var chain = StageChain.Resolve([.. stages.Select(g => g.Signature)], options.Classes.Count, options.InputSize, options.LogitsNames, options.FeatureNames);
            var baselineNames = baseline is null ? null : StageChain.ResolveBaseline(baseline.Signature, stages[0].Signature, options.Classes.Count);
            var renamed = ChainingNames(stages, chain.Stages);

            var files = new List<StageFile>(stages.Count);
            for (var s = 0; s < stages.Count; s++)
            {
                var (from, to) = (chain.Stages[s], renamed[s]);
                var model = stages[s].Model.Clone();
                var map = new Dictionary<string, string>(StringComparer.Ordinal) { [from.Input] = to.Input, [from.Logits] = to.Logits };
                if (from.Feature is not null)
                {
                    map[from.Feature] = to.Feature!;
                }

                OnnxValueRenamer.Rename(model.Graph, map);
                var bytes = model.ToByteArray();
                CopyParity.Check(stages[s], bytes, from, to, seed: s + 1);

                // Multiply-adds of an arbitrary graph are not counted (no shape inference here): 0, and calibration times the stages.
                files.Add(new StageFile(s + 1, bytes, to.Input, to.Logits, to.Feature, Flops: 0, stages[s].Parameters));
            }

            var manifest = new ModelManifest
            {
                SchemaVersion = ModelManifest.CurrentSchemaVersion,
                Description = options.Description ?? $"imported with dfbnet import from {string.Join(", ", options.Stages.Select(Path.GetFileName))} ({stages.Count} exits, {options.Classes.Count} classes)",
                Classes = [.. options.Classes],
                Input = new InputSpec { Width = chain.InputSize, Height = chain.InputSize, Normalization = options.Normalization },
                Thresholds = DefaultPresets.Create(stages.Count),
            };
            var baselineFile = baseline is null
                ? null
                : new BaselineFile(File.ReadAllBytes(baseline.Path), baselineNames!.Input, baselineNames.Logits, $"imported from {Path.GetFileName(baseline.Path)}", Flops: 0, baseline.Parameters);
            ModelFolderWriter.Write(options.OutFolder, manifest, files, baselineFile);

            // The server's own checks, on the written folder: the manifest against every session, the stages chained.
            using (EarlyExitEngine.Load(options.OutFolder, new EngineOptions { WarmupRuns = 1 }))
            {
            }

            return new ImportResult(manifest, [.. stages.Select((g, s) => new ImportedStage(g.Path, chain.Stages[s], renamed[s]))]);
        }
        finally
        {
            foreach (var graph in graphs)
            {
                graph.Dispose();
            }
        }
    }

    /// <summary>
    /// <c>image</c>, <c>logits{s}</c> and <c>feature{s}</c> (stage s+1's input), each with a suffix where the graph
    /// already uses that name for another value.
    /// </summary>
    private static List<StageNames> ChainingNames(List<ImportedGraph> stages, IReadOnlyList<StageNames> names)
    {
        var taken = stages.Select((g, s) =>
        {
            var used = OnnxValueRenamer.Names(g.Model.Graph);
            used.ExceptWith(new[] { names[s].Input, names[s].Logits, names[s].Feature }.OfType<string>());
            return used;
        }).ToList();

        var result = new List<StageNames>(stages.Count);
        var input = OnnxValueRenamer.FreeName(ImageName, taken[0]);
        for (var s = 0; s < stages.Count; s++)
        {
            var logits = OnnxValueRenamer.FreeName($"logits{s + 1}", taken[s]);
            var feature = s == stages.Count - 1 ? null : OnnxValueRenamer.FreeName($"feature{s + 1}", taken[s], taken[s + 1]);
            result.Add(new StageNames(input, logits, feature));
            input = feature ?? input;
        }

        return result;
    }
}
