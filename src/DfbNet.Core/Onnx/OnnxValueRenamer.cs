using DfbNet.Core.Onnx.Proto;

namespace DfbNet.Core.Onnx;

/// <summary>
/// Renames values of an ONNX graph: graph inputs and outputs, initializers, value infos, and every node, in the graph
/// and in its subgraphs, that produces or reads them. Stage models exported elsewhere each name their input and outputs
/// on their own (every PyTorch stage reads <c>input.1</c>); the manifest chains stages by name, so an import gives them
/// names that chain. Nothing else in the graph changes.
/// </summary>
public static class OnnxValueRenamer
{
    /// <summary>Renames every value named by a key of <paramref name="names"/> to its value, all at once (a swap works).</summary>
    public static void Rename(GraphProto graph, IReadOnlyDictionary<string, string> names)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(names);
        string Map(string name) => names.TryGetValue(name, out var renamed) ? renamed : name;

        foreach (var info in graph.Input.Concat(graph.Output).Concat(graph.ValueInfo))
        {
            info.Name = Map(info.Name);
        }

        foreach (var initializer in graph.Initializer)
        {
            initializer.Name = Map(initializer.Name);
        }

        foreach (var node in graph.Node)
        {
            for (var i = 0; i < node.Input.Count; i++)
            {
                node.Input[i] = Map(node.Input[i]);
            }

            for (var i = 0; i < node.Output.Count; i++)
            {
                node.Output[i] = Map(node.Output[i]);
            }

            // ONNX forbids a subgraph to shadow a name of an enclosing scope, so a renamed name there is the same value.
            foreach (var subgraph in Subgraphs(node))
            {
                Rename(subgraph, names);
            }
        }
    }

    /// <summary>Every value name that <paramref name="graph"/> and its subgraphs use.</summary>
    public static HashSet<string> Names(GraphProto graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var names = new HashSet<string>(StringComparer.Ordinal);
        Collect(graph, names);
        return names;
    }

    /// <summary><paramref name="preferred"/> if no set in <paramref name="taken"/> holds it, else the first free of
    /// <c>preferred_2</c>, <c>preferred_3</c>, ...</summary>
    public static string FreeName(string preferred, params IReadOnlySet<string>[] taken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(preferred);
        var name = preferred;
        for (var n = 2; taken.Any(t => t.Contains(name)); n++)
        {
            name = $"{preferred}_{n}";
        }

        return name;
    }

    private static void Collect(GraphProto graph, HashSet<string> names)
    {
        names.UnionWith(graph.Input.Concat(graph.Output).Concat(graph.ValueInfo).Select(v => v.Name));
        names.UnionWith(graph.Initializer.Select(t => t.Name));
        foreach (var node in graph.Node)
        {
            names.UnionWith(node.Input.Concat(node.Output).Where(n => n.Length > 0));
            foreach (var subgraph in Subgraphs(node))
            {
                Collect(subgraph, names);
            }
        }
    }

    private static IEnumerable<GraphProto> Subgraphs(NodeProto node) =>
        node.Attribute.SelectMany(a => a.G is null ? a.Graphs : a.Graphs.Prepend(a.G));
}
