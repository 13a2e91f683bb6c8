using System.Globalization;

namespace DfbNet.Cli.Import;

/// <summary>One tensor a graph takes or returns, as ONNX Runtime reports it.</summary>
/// <param name="Dims">The shape; a symbolic dimension is -1.</param>
/// <param name="Symbols">The name of each symbolic dimension (empty where it has none, or is fixed).</param>
/// <param name="ElementType">ONNX Runtime's name of the element type (<c>Float</c> for float32).</param>
internal sealed record GraphTensor(string Name, long[] Dims, string[] Symbols, string ElementType)
{
    public bool IsFloat => ElementType == "Float";

    /// <summary>The shape of one image's slice: every dimension after the batch.</summary>
    public long[] PerImage => Dims.Length == 0 ? [] : Dims[1..];

    /// <summary>Every dimension after the batch is a number (the server sizes its buffers from them).</summary>
    public bool PerImageFixed => Dims.Length >= 2 && PerImage.All(d => d > 0);

    /// <summary>The same per-image shape as <paramref name="other"/>, both fixed; batch dimensions may differ.</summary>
    public bool SameImageShape(GraphTensor other) => PerImageFixed && other.PerImageFixed && PerImage.SequenceEqual(other.PerImage);

    /// <summary><c>'name' [N, 16, 8, 8]</c>, symbolic dimensions by their name (or <c>?</c>).</summary>
    public override string ToString() =>
        $"'{Name}' [{string.Join(", ", Dims.Select((d, i) => d > 0 ? d.ToString(CultureInfo.InvariantCulture) : Symbols.ElementAtOrDefault(i) is { Length: > 0 } s ? s : "?"))}]";
}

/// <summary>A graph's inputs and outputs, and what messages call it (<c>stage 2 (b.onnx)</c>).</summary>
internal sealed record GraphSignature(string Label, IReadOnlyList<GraphTensor> Inputs, IReadOnlyList<GraphTensor> Outputs)
{
    public string DescribeOutputs(IEnumerable<GraphTensor>? outputs = null)
    {
        var list = (outputs ?? Outputs).ToList();
        return list.Count == 0 ? "none" : string.Join(", ", list);
    }
}
