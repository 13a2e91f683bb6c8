using System.Buffers.Binary;
using System.Runtime.InteropServices;
using DfbNet.Core.Onnx.Proto;
using Google.Protobuf;

namespace DfbNet.Core.Onnx;

/// <summary>
/// Builds a float32 ONNX inference graph node by node over the generated IR protos.
/// Every method returns the name of the value it created so calls chain naturally;
/// names are generated when not supplied and are guaranteed unique within the graph
/// because ONNX graphs are single-assignment (a reused name would silently shadow).
/// </summary>
public sealed class OnnxGraphBuilder
{
    // IR version 8 (ONNX 1.10+) is the oldest that allows initializers without matching
    // graph inputs and is read by every maintained runtime.
    private const long IrVersion = 8;

    // Symbolic name written for a dimension given as -1; "N" is the usual batch symbol.
    private const string DynamicDimName = "N";

    private readonly GraphProto _graph;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long[]> _initializerDims = new(StringComparer.Ordinal);
    private int _autoNameCounter;

    public OnnxGraphBuilder(string graphName, int opsetVersion = 17)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(graphName);
        ArgumentOutOfRangeException.ThrowIfLessThan(opsetVersion, 1);
        _graph = new GraphProto { Name = graphName };
        OpsetVersion = opsetVersion;
    }

    public int OpsetVersion { get; }

    /// <summary>Total element count of all initializers (weights, biases, BN statistics).</summary>
    public long ParameterCount { get; private set; }

    public string AddInput(string name, params long[] shape)
    {
        Claim(name);
        _graph.Input.Add(ValueInfo(name, shape));
        return name;
    }

    public void AddOutput(string valueName, params long[] shape)
    {
        // Outputs name values that already exist, so no Claim here.
        ArgumentException.ThrowIfNullOrWhiteSpace(valueName);
        _graph.Output.Add(ValueInfo(valueName, shape));
    }

    public string AddInitializer(string name, ReadOnlySpan<float> data, params long[] dims)
    {
        var count = ElementCount(dims);
        if (count != data.Length)
        {
            throw new ArgumentException(
                $"Initializer '{name}' has {data.Length} values but dims [{string.Join(",", dims)}] need {count}.",
                nameof(data));
        }

        Claim(name);
        var tensor = new TensorProto
        {
            Name = name,
            DataType = (int)TensorProto.Types.DataType.Float,
            RawData = LittleEndianBytes(data),
        };
        tensor.Dims.Add(dims);
        _graph.Initializer.Add(tensor);
        _initializerDims[name] = (long[])dims.Clone();
        ParameterCount += count;
        return name;
    }

    public string Conv(
        string x, string weight, string? bias, int stride = 1, int pad = 0, int group = 1, string? name = null)
    {
        // Kernel rank and size come from the weight (Cout, Cin/group, k1, k2, ...), so the
        // weight has to be one of our initializers.
        if (!_initializerDims.TryGetValue(weight, out var weightDims) || weightDims.Length < 3)
        {
            throw new ArgumentException($"Conv weight '{weight}' must be an initializer of rank >= 3.", nameof(weight));
        }

        var spatialRank = weightDims.Length - 2;
        var attributes = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["kernel_shape"] = weightDims[2..],
            ["strides"] = Repeat(stride, spatialRank),
            ["pads"] = Repeat(pad, 2 * spatialRank),
            ["dilations"] = Repeat(1, spatialRank),
            ["group"] = (long)group,
        };
        var inputs = bias is null ? new[] { x, weight } : new[] { x, weight, bias };
        return Node("Conv", inputs, attributes, name);
    }

    public string BatchNormalization(
        string x, string scale, string bias, string mean, string var, float epsilon = 1e-5f, string? name = null) =>
        Node(
            "BatchNormalization",
            [x, scale, bias, mean, var],
            new Dictionary<string, object>(StringComparer.Ordinal) { ["epsilon"] = epsilon },
            name);

    public string Relu(string x, string? name = null) => Node("Relu", [x], null, name);

    public string Add(string a, string b, string? name = null) => Node("Add", [a, b], null, name);

    public string Sub(string a, string b, string? name = null) => Node("Sub", [a, b], null, name);

    public string Mul(string a, string b, string? name = null) => Node("Mul", [a, b], null, name);

    /// <summary>2-D average pooling; padded cells are excluded from the mean (ONNX default).</summary>
    public string AveragePool(string x, int kernel, int stride, int pad = 0, string? name = null) =>
        Node(
            "AveragePool",
            [x],
            new Dictionary<string, object>(StringComparer.Ordinal)
            {
                ["kernel_shape"] = Repeat(kernel, 2),
                ["strides"] = Repeat(stride, 2),
                ["pads"] = Repeat(pad, 4),
            },
            name);

    public string GlobalAveragePool(string x, string? name = null) => Node("GlobalAveragePool", [x], null, name);

    public string Flatten(string x, int axis = 1, string? name = null) =>
        Node("Flatten", [x], new Dictionary<string, object>(StringComparer.Ordinal) { ["axis"] = (long)axis }, name);

    /// <summary>Y = A * B' + C with B stored (out, in) when <paramref name="transB"/>, as PyTorch's Linear does.</summary>
    public string Gemm(string a, string b, string c, bool transB = true, string? name = null) =>
        Node(
            "Gemm",
            [a, b, c],
            new Dictionary<string, object>(StringComparer.Ordinal) { ["transB"] = transB ? 1L : 0L },
            name);

    public string Identity(string x, string? name = null) => Node("Identity", [x], null, name);

    /// <summary>
    /// Appends a default-domain node with one output. Attribute values may be long, int,
    /// float, double, long[], int[], float[] or string; attributes are written sorted by
    /// name so identical calls always serialise to identical bytes.
    /// </summary>
    public string Node(
        string opType,
        IReadOnlyList<string> inputs,
        IReadOnlyDictionary<string, object>? attributes = null,
        string? outputName = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(opType);
        ArgumentNullException.ThrowIfNull(inputs);

        var output = outputName ?? NextName(opType);
        Claim(output);

        var node = new NodeProto { OpType = opType, Name = $"{opType}_{output}" };
        node.Input.Add(inputs);
        node.Output.Add(output);
        if (attributes is not null)
        {
            foreach (var (key, value) in attributes.OrderBy(a => a.Key, StringComparer.Ordinal))
            {
                node.Attribute.Add(Attribute(key, value));
            }
        }

        _graph.Node.Add(node);
        return output;
    }

    public ModelProto Build(string producerName = "DfbNet")
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = producerName,
            // Clone so later builder calls cannot mutate a model already handed out.
            Graph = _graph.Clone(),
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = OpsetVersion });
        return model;
    }

    public byte[] ToBytes() => Build().ToByteArray();

    public void Save(string path) => File.WriteAllBytes(path, ToBytes());

    private void Claim(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!_names.Add(name))
        {
            throw new ArgumentException($"Value name '{name}' is already used in graph '{_graph.Name}'.", nameof(name));
        }
    }

    private string NextName(string prefix)
    {
        string candidate;
        do
        {
            candidate = $"{prefix}_{_autoNameCounter++}";
        }
        while (_names.Contains(candidate));

        return candidate;
    }

    private static ValueInfoProto ValueInfo(string name, long[] shape)
    {
        var tensorShape = new TensorShapeProto();
        foreach (var dim in shape)
        {
            tensorShape.Dim.Add(dim switch
            {
                -1 => new TensorShapeProto.Types.Dimension { DimParam = DynamicDimName },
                >= 0 => new TensorShapeProto.Types.Dimension { DimValue = dim },
                _ => throw new ArgumentOutOfRangeException(nameof(shape), $"Dimension {dim} is neither -1 nor >= 0."),
            });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor
                {
                    ElemType = (int)TensorProto.Types.DataType.Float,
                    Shape = tensorShape,
                },
            },
        };
    }

    private static AttributeProto Attribute(string name, object value)
    {
        var attribute = new AttributeProto { Name = name };
        switch (value)
        {
            case long i:
                attribute.Type = AttributeProto.Types.AttributeType.Int;
                attribute.I = i;
                break;
            case int i:
                attribute.Type = AttributeProto.Types.AttributeType.Int;
                attribute.I = i;
                break;
            case float f:
                attribute.Type = AttributeProto.Types.AttributeType.Float;
                attribute.F = f;
                break;
            case double d:
                attribute.Type = AttributeProto.Types.AttributeType.Float;
                attribute.F = (float)d;
                break;
            case long[] ints:
                attribute.Type = AttributeProto.Types.AttributeType.Ints;
                attribute.Ints.Add(ints);
                break;
            case int[] ints:
                attribute.Type = AttributeProto.Types.AttributeType.Ints;
                attribute.Ints.Add(ints.Select(i => (long)i));
                break;
            case float[] floats:
                attribute.Type = AttributeProto.Types.AttributeType.Floats;
                attribute.Floats.Add(floats);
                break;
            case string s:
                attribute.Type = AttributeProto.Types.AttributeType.String;
                attribute.S = ByteString.CopyFromUtf8(s);
                break;
            default:
                throw new ArgumentException(
                    $"Attribute '{name}' has unsupported type {value?.GetType().Name ?? "null"}.", nameof(value));
        }

        return attribute;
    }

    private static ByteString LittleEndianBytes(ReadOnlySpan<float> data)
    {
        if (BitConverter.IsLittleEndian)
        {
            return ByteString.CopyFrom(MemoryMarshal.AsBytes(data));
        }

        var bytes = new byte[data.Length * sizeof(float)];
        for (var i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), data[i]);
        }

        return ByteString.CopyFrom(bytes);
    }

    private static long ElementCount(long[] dims)
    {
        long count = 1;
        foreach (var dim in dims)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(dim, nameof(dims));
            count *= dim;
        }

        return count;
    }

    private static long[] Repeat(long value, int count)
    {
        var values = new long[count];
        Array.Fill(values, value);
        return values;
    }
}
