using DfbNet.Core.Onnx;
using DfbNet.Core.Onnx.Proto;

namespace DfbNet.Runtime.Tests.Onnx;

/// <summary>Serialisation-level behaviour of the builder, checked on the parsed protobuf.</summary>
public sealed class OnnxGraphBuilderModelTests
{
    private static readonly long[] Ints = [1, 2];
    private static readonly float[] Floats = [1f, 2f];

    [Fact]
    public void ToBytes_ParsesBackWithIrVersion8AndRequestedOpset()
    {
        var builder = new OnnxGraphBuilder("roundtrip", opsetVersion: 13);
        var x = builder.AddInput("x", -1, 4);
        builder.AddOutput(builder.Relu(x, "y"), -1, 4);

        var model = ModelProto.Parser.ParseFrom(builder.ToBytes());

        Assert.Equal(8, model.IrVersion);
        var opset = Assert.Single(model.OpsetImport);
        Assert.Equal(string.Empty, opset.Domain);
        Assert.Equal(13, opset.Version);
        Assert.Equal("DfbNet", model.ProducerName);
        Assert.Equal("roundtrip", model.Graph.Name);
        Assert.Equal("Relu", Assert.Single(model.Graph.Node).OpType);
    }

    [Fact]
    public void AddInput_WritesMinusOneAsSymbolicBatchDimension()
    {
        var builder = new OnnxGraphBuilder("dims");
        builder.AddInput("x", -1, 3, 8, 8);
        builder.AddOutput("x", -1, 3, 8, 8);

        var input = Assert.Single(ModelProto.Parser.ParseFrom(builder.ToBytes()).Graph.Input);
        var dims = input.Type.TensorType.Shape.Dim;

        Assert.Equal((int)TensorProto.Types.DataType.Float, input.Type.TensorType.ElemType);
        Assert.Equal("N", dims[0].DimParam);
        Assert.Equal(TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam, dims[0].ValueCase);
        Assert.Equal([3L, 8, 8], dims.Skip(1).Select(d => d.DimValue));
    }

    [Fact]
    public void AddInitializer_StoresLittleEndianRawDataAndCountsParameters()
    {
        var builder = new OnnxGraphBuilder("init");
        builder.AddInitializer("w", [1.5f, -2f, 3.25f, 0f, 1f, 2f], 2, 3);
        builder.AddInitializer("b", [0.5f, 0.25f], 2);

        var tensor = ModelProto.Parser.ParseFrom(builder.ToBytes()).Graph.Initializer[0];
        var bytes = tensor.RawData.ToByteArray();
        var decoded = Enumerable.Range(0, 6)
            .Select(i => System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4)))
            .ToArray();

        Assert.Equal(8, builder.ParameterCount);
        Assert.Equal([2L, 3], tensor.Dims);
        Assert.Empty(tensor.FloatData);
        Assert.Equal([1.5f, -2f, 3.25f, 0f, 1f, 2f], decoded);
    }

    [Fact]
    public void AddInitializer_RejectsDataThatDoesNotMatchDims()
    {
        var builder = new OnnxGraphBuilder("bad");

        Assert.Throws<ArgumentException>(() => builder.AddInitializer("w", [1f, 2f, 3f], 2, 2));
    }

    [Fact]
    public void Node_RejectsDuplicateOutputNameAndGeneratesUniqueNamesOtherwise()
    {
        var builder = new OnnxGraphBuilder("names");
        var x = builder.AddInput("x", -1, 2);
        var first = builder.Relu(x);
        var second = builder.Relu(first);

        Assert.NotEqual(first, second);
        Assert.Throws<ArgumentException>(() => builder.Relu(second, name: first));
    }

    [Fact]
    public void Node_WritesTypedAttributes()
    {
        var builder = new OnnxGraphBuilder("attrs");
        var x = builder.AddInput("x", -1, 2);
        builder.Node(
            "Custom",
            [x],
            new Dictionary<string, object>
            {
                ["z_int"] = 3L,
                ["a_float"] = 0.5f,
                ["m_ints"] = Ints,
                ["f_floats"] = Floats,
                ["s_string"] = "hello",
            });

        var attributes = Assert.Single(ModelProto.Parser.ParseFrom(builder.ToBytes()).Graph.Node).Attribute;

        Assert.Equal(["a_float", "f_floats", "m_ints", "s_string", "z_int"], attributes.Select(a => a.Name));
        Assert.Equal(AttributeProto.Types.AttributeType.Float, attributes[0].Type);
        Assert.Equal(0.5f, attributes[0].F);
        Assert.Equal([1f, 2f], attributes[1].Floats);
        Assert.Equal([1L, 2], attributes[2].Ints);
        Assert.Equal("hello", attributes[3].S.ToStringUtf8());
        Assert.Equal(AttributeProto.Types.AttributeType.Int, attributes[4].Type);
        Assert.Equal(3, attributes[4].I);
    }

    [Fact]
    public void Save_WritesSameBytesAsToBytes()
    {
        var builder = new OnnxGraphBuilder("save");
        builder.AddOutput(builder.Relu(builder.AddInput("x", -1, 2)), -1, 2);
        var path = Path.Combine(Path.GetTempPath(), $"dfbnet-{Guid.NewGuid():N}.onnx");
        try
        {
            builder.Save(path);

            Assert.Equal(builder.ToBytes(), File.ReadAllBytes(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
