using DfbNet.Core.Onnx.Proto;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Cli.Import;

/// <summary>
/// An ONNX file given to <c>dfbnet import</c>: its model (to be renamed and copied) and a CPU session on the file as
/// it is, whose inputs and outputs are what the import reads and whose runs the copy is checked against.
/// </summary>
internal sealed class ImportedGraph(string path, ModelProto model, InferenceSession session, GraphSignature signature) : IDisposable
{
    /// <summary>The file as the user named it.</summary>
    public string Path => path;

    public ModelProto Model => model;

    public InferenceSession Session => session;

    public GraphSignature Signature => signature;

    /// <summary>Initializer elements: the weights, biases and statistics stored in the file.</summary>
    public long Parameters => Model.Graph.Initializer.Sum(t => t.Dims.Aggregate(1L, (n, d) => n * d));

    /// <param name="path">The file.</param>
    /// <param name="label">What messages call it, e.g. <c>stage 2 (b.onnx)</c>.</param>
    /// <exception cref="ImportException">The file is not a self-contained ONNX model that ONNX Runtime loads.</exception>
    public static ImportedGraph Open(string path, string label)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        }
        catch (InvalidProtocolBufferException)
        {
            throw new ImportException($"{label}: not an ONNX model (the file does not parse as one)");
        }

        if (model.Graph is null)
        {
            throw new ImportException($"{label}: not an ONNX model (it has no graph)");
        }

        // Only the model file is copied into the model folder; weights kept beside it would be left behind.
        if (model.Graph.Initializer.Any(t => t.DataLocation == TensorProto.Types.DataLocation.External))
        {
            throw new ImportException($"{label}: keeps its weights in a separate external-data file; import copies one self-contained file per stage (fold the weights in with onnx.save_model(onnx.load(path), path, save_as_external_data=False))");
        }

        InferenceSession session;
        try
        {
            using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
            session = new InferenceSession(path, options);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new ImportException($"{label}: ONNX Runtime cannot load it: {FirstLine(ex.Message)}");
        }

        var signature = new GraphSignature(label, Tensors(session.InputMetadata), Tensors(session.OutputMetadata));
        return new ImportedGraph(path, model, session, signature);
    }

    public void Dispose() => Session.Dispose();

    private static List<GraphTensor> Tensors(IReadOnlyDictionary<string, NodeMetadata> metadata) =>
        [.. metadata.Select(m => new GraphTensor(
            m.Key,
            m.Value.IsTensor ? [.. m.Value.Dimensions.Select(d => (long)d)] : [],
            m.Value.IsTensor ? m.Value.SymbolicDimensions : [],
            m.Value.IsTensor ? m.Value.ElementDataType.ToString() : m.Value.OnnxValueType.ToString()))];

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();
}
