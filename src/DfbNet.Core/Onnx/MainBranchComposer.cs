using DfbNet.Core.Manifest;
using DfbNet.Core.Onnx.Proto;

namespace DfbNet.Core.Onnx;

/// <summary>
/// Builds the main branch alone (the baseline network) out of a DFB-Net's stage models: the stages are joined into
/// one graph, stage s's feature output feeding stage s+1, and everything that does not lead to the last exit's
/// logits (the side branches) is pruned. Works for any exported model, so "gain over the main branch" can be measured
/// for every model folder without a separate export, and the main branch computes exactly what the stages compute.
/// </summary>
public static class MainBranchComposer
{
    /// <summary>The composed graph's input and output names.</summary>
    public const string InputName = "image";
    public const string LogitsName = "logits";

    /// <param name="stages">The stage models, in order.</param>
    /// <param name="specs">Their manifest entries (input, logits and feature output names).</param>
    /// <returns>A model with one input (<see cref="InputName"/>) and one output (<see cref="LogitsName"/>).</returns>
    public static ModelProto Compose(IReadOnlyList<ModelProto> stages, IReadOnlyList<StageSpec> specs)
    {
        ArgumentNullException.ThrowIfNull(stages);
        ArgumentNullException.ThrowIfNull(specs);
        if (stages.Count == 0 || stages.Count != specs.Count)
        {
            throw new ArgumentException($"{stages.Count} stage models for {specs.Count} manifest stages.", nameof(stages));
        }

        var graph = new GraphProto { Name = "dfbnet_main_branch" };
        string? previousFeature = null;
        for (var s = 0; s < stages.Count; s++)
        {
            var stage = stages[s].Graph;
            var prefix = $"s{s + 1}/";
            var rename = new Dictionary<string, string>(StringComparer.Ordinal);

            // Stage 1 reads the image; later stages read the previous stage's feature.
            rename[specs[s].Input] = s == 0 ? InputName : previousFeature!;
            string Map(string name) => name.Length == 0 ? name : rename.TryGetValue(name, out var mapped) ? mapped : prefix + name;

            foreach (var init in stage.Initializer)
            {
                var copy = init.Clone();
                copy.Name = Map(init.Name);
                graph.Initializer.Add(copy);
            }

            foreach (var node in stage.Node)
            {
                var copy = node.Clone();
                copy.Name = node.Name.Length == 0 ? "" : prefix + node.Name;
                copy.Input.Clear();
                copy.Input.AddRange(node.Input.Select(Map));
                copy.Output.Clear();
                copy.Output.AddRange(node.Output.Select(Map));
                graph.Node.Add(copy);
            }

            if (s == 0)
            {
                var input = stage.Input.Single(i => i.Name == specs[0].Input).Clone();
                input.Name = InputName;
                graph.Input.Add(input);
            }

            if (s == stages.Count - 1)
            {
                var output = stage.Output.Single(o => o.Name == specs[s].LogitsOutput).Clone();
                var producer = graph.Node.Last(n => n.Output.Contains(Map(specs[s].LogitsOutput)));
                for (var i = 0; i < producer.Output.Count; i++)
                {
                    if (producer.Output[i] == Map(specs[s].LogitsOutput))
                    {
                        producer.Output[i] = LogitsName;
                    }
                }

                output.Name = LogitsName;
                graph.Output.Add(output);
            }
            else
            {
                previousFeature = Map(specs[s].FeatureOutput!);
            }
        }

        Prune(graph);
        var model = new ModelProto
        {
            IrVersion = stages.Max(m => m.IrVersion),
            ProducerName = "DfbNet main-branch composer",
            Graph = graph,
        };
        foreach (var opset in stages.SelectMany(m => m.OpsetImport).GroupBy(o => o.Domain))
        {
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = opset.Key, Version = opset.Max(o => o.Version) });
        }

        return model;
    }

    /// <summary>Reads the stage files of a model folder and composes its main branch.</summary>
    public static ModelProto Compose(string modelFolder, ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var stages = manifest.Stages.Select(s => ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(modelFolder, s.File)))).ToList();
        return Compose(stages, manifest.Stages);
    }

    /// <summary>Removes every node and initializer the graph's outputs do not depend on.</summary>
    private static void Prune(GraphProto graph)
    {
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            foreach (var output in node.Output)
            {
                producers[output] = node;
            }
        }

        var needed = new HashSet<string>(StringComparer.Ordinal);
        var keep = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<string>(graph.Output.Select(o => o.Name));
        while (pending.TryPop(out var value))
        {
            if (!needed.Add(value) || !producers.TryGetValue(value, out var node) || !keep.Add(node))
            {
                continue;
            }

            foreach (var input in node.Input)
            {
                pending.Push(input);
            }
        }

        var nodes = graph.Node.Where(keep.Contains).ToList();
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        var initializers = graph.Initializer.Where(i => needed.Contains(i.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(initializers);
        graph.ValueInfo.Clear();
    }
}
