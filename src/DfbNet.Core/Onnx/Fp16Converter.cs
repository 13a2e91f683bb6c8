using System.Buffers.Binary;
using DfbNet.Core.Manifest;
using DfbNet.Core.Onnx.Proto;
using Google.Protobuf;

namespace DfbNet.Core.Onnx;

/// <summary>
/// Converts a float32 stage model to float16 weights and activations while keeping float32 inputs and outputs
/// (a Cast after each graph input and before each graph output), so that the server's buffers, the manifest and the
/// next stage's input stay as they are. Halves the weights and the GPU's memory traffic; the accuracy change is
/// measured with <c>dfbnet eval</c>.
/// </summary>
public static class Fp16Converter
{
    private const int Float = 1;
    private const int Float16 = 10;

    public static ModelProto Convert(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var converted = model.Clone();
        var graph = converted.Graph;
        foreach (var initializer in graph.Initializer)
        {
            ToHalf(initializer);
        }

        foreach (var node in graph.Node)
        {
            foreach (var attribute in node.Attribute)
            {
                if (attribute.T is { } tensor)
                {
                    ToHalf(tensor);
                }
            }
        }

        var nodes = graph.Node.ToList();
        var prologue = new List<NodeProto>();
        foreach (var input in graph.Input.Where(i => i.Type?.TensorType?.ElemType == Float))
        {
            var half = input.Name + "__fp16";
            foreach (var node in nodes)
            {
                for (var i = 0; i < node.Input.Count; i++)
                {
                    if (node.Input[i] == input.Name)
                    {
                        node.Input[i] = half;
                    }
                }
            }

            prologue.Add(Cast(input.Name, half, Float16));
        }

        var epilogue = new List<NodeProto>();
        foreach (var output in graph.Output.Where(o => o.Type?.TensorType?.ElemType == Float))
        {
            var half = output.Name + "__fp16";
            foreach (var node in nodes)
            {
                for (var i = 0; i < node.Output.Count; i++)
                {
                    if (node.Output[i] == output.Name)
                    {
                        node.Output[i] = half;
                    }
                }

                for (var i = 0; i < node.Input.Count; i++)
                {
                    if (node.Input[i] == output.Name)
                    {
                        // A graph output that is also used inside the graph (a stage's trunk feature feeding its exit head).
                        node.Input[i] = half;
                    }
                }
            }

            epilogue.Add(Cast(half, output.Name, Float));
        }

        graph.Node.Clear();
        graph.Node.AddRange(prologue);
        graph.Node.AddRange(nodes);
        graph.Node.AddRange(epilogue);

        // Intermediate types changed; ONNX Runtime infers them again.
        graph.ValueInfo.Clear();
        return converted;
    }

    /// <summary>Converts every stage file of a model folder in place, and says so in its manifest's description.</summary>
    public static void ConvertFolder(string modelFolder, ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        foreach (var stage in manifest.Stages)
        {
            var path = Path.Combine(modelFolder, stage.File);
            var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            File.WriteAllBytes(path, Convert(model).ToByteArray());
        }

        manifest.Description += " (float16 weights and activations)";
        ManifestLoader.Save(manifest, modelFolder);
    }

    private static NodeProto Cast(string input, string output, int to)
    {
        var node = new NodeProto { OpType = "Cast", Name = "cast_" + output };
        node.Input.Add(input);
        node.Output.Add(output);
        node.Attribute.Add(new AttributeProto { Name = "to", I = to, Type = AttributeProto.Types.AttributeType.Int });
        return node;
    }

    private static void ToHalf(TensorProto tensor)
    {
        if (tensor.DataType != Float)
        {
            return;
        }

        float[] values;
        if (!tensor.RawData.IsEmpty)
        {
            var raw = tensor.RawData.Span;
            values = new float[raw.Length / 4];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(4 * i)..]);
            }
        }
        else
        {
            values = [.. tensor.FloatData];
        }

        var bytes = new byte[values.Length * 2];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(2 * i), (Half)values[i]);
        }

        tensor.FloatData.Clear();
        tensor.RawData = ByteString.CopyFrom(bytes);
        tensor.DataType = Float16;
    }
}
