using DfbNet.Core.Onnx;

namespace DfbNet.Runtime.Tests.Onnx;

/// <summary>Each builder op, run on ONNX Runtime (CPU), must agree with a direct C# computation.</summary>
public sealed class OnnxGraphBuilderOpTests
{
    [Fact]
    public void Conv_MatchesHandComputation()
    {
        // x = [[1,2,3],[4,5,6],[7,8,9]], kernel [[1,0],[0,-1]], bias 0.5:
        // every output is x[i,j] - x[i+1,j+1] + 0.5 = 1 - 5 + 0.5 = -3.5.
        var builder = new OnnxGraphBuilder("conv");
        var x = builder.AddInput("x", 1, 1, 3, 3);
        var w = builder.AddInitializer("w", [1f, 0f, 0f, -1f], 1, 1, 2, 2);
        var b = builder.AddInitializer("b", [0.5f], 1);
        var y = builder.Conv(x, w, b, name: "y");
        builder.AddOutput(y, 1, 1, 2, 2);

        var result = OrtTestRunner.Run(
            builder.ToBytes(), ("x", new TensorData([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3])))["y"];

        Assert.Equal([1L, 1, 2, 2], result.Shape);
        Assert.Equal([-3.5f, -3.5f, -3.5f, -3.5f], result.Data);
    }

    [Fact]
    public void Conv_WithPaddingStrideAndGroups_MatchesReference()
    {
        var random = new Random(7);
        const int n = 2, cin = 4, h = 7, w = 7, cout = 6, k = 3, stride = 2, pad = 1, group = 2;
        var weight = OrtTestRunner.RandomData(random, cout * (cin / group) * k * k);
        var bias = OrtTestRunner.RandomData(random, cout);
        var input = OrtTestRunner.RandomData(random, n * cin * h * w);

        var builder = new OnnxGraphBuilder("conv");
        var x = builder.AddInput("x", -1, cin, h, w);
        var y = builder.Conv(
            x,
            builder.AddInitializer("w", weight, cout, cin / group, k, k),
            builder.AddInitializer("b", bias, cout),
            stride,
            pad,
            group);
        builder.AddOutput(y, -1, cout, 4, 4);

        var result = OrtTestRunner.Run(builder.ToBytes(), ("x", new TensorData(input, [n, cin, h, w])))[y];
        var expected = ReferenceOps.Conv2d(input, n, cin, h, w, weight, cout, k, bias, stride, pad, group, out var oh, out var ow);

        Assert.Equal([n, cout, oh, ow], result.Shape);
        OrtTestRunner.AssertClose(expected, result.Data);
    }

    [Fact]
    public void BatchNormalization_MatchesReference()
    {
        var random = new Random(11);
        const int n = 2, c = 3, h = 4, w = 5;
        const float epsilon = 1e-3f;
        var scale = OrtTestRunner.RandomData(random, c, 0.5f, 1.5f);
        var bias = OrtTestRunner.RandomData(random, c);
        var mean = OrtTestRunner.RandomData(random, c);
        var variance = OrtTestRunner.RandomData(random, c, 0.5f, 2f);
        var input = OrtTestRunner.RandomData(random, n * c * h * w);

        var builder = new OnnxGraphBuilder("bn");
        var x = builder.AddInput("x", -1, c, h, w);
        var y = builder.BatchNormalization(
            x,
            builder.AddInitializer("scale", scale, c),
            builder.AddInitializer("bias", bias, c),
            builder.AddInitializer("mean", mean, c),
            builder.AddInitializer("var", variance, c),
            epsilon,
            "y");
        builder.AddOutput(y, -1, c, h, w);

        var result = OrtTestRunner.Run(builder.ToBytes(), ("x", new TensorData(input, [n, c, h, w])))["y"];

        OrtTestRunner.AssertClose(ReferenceOps.BatchNorm(input, n, c, h * w, scale, bias, mean, variance, epsilon), result.Data);
    }

    [Fact]
    public void Gemm_WithTransposedB_MatchesReference()
    {
        var random = new Random(13);
        const int m = 3, k = 5, nOut = 4;
        var b = OrtTestRunner.RandomData(random, nOut * k);
        var c = OrtTestRunner.RandomData(random, nOut);
        var a = OrtTestRunner.RandomData(random, m * k);

        var builder = new OnnxGraphBuilder("gemm");
        var input = builder.AddInput("a", -1, k);
        var y = builder.Gemm(input, builder.AddInitializer("b", b, nOut, k), builder.AddInitializer("c", c, nOut), name: "y");
        builder.AddOutput(y, -1, nOut);

        var result = OrtTestRunner.Run(builder.ToBytes(), ("a", new TensorData(a, [m, k])))["y"];

        Assert.Equal([m, nOut], result.Shape);
        OrtTestRunner.AssertClose(ReferenceOps.GemmTransB(a, m, k, b, nOut, c), result.Data);
    }

    [Theory]
    [InlineData(2, 2, 0)]
    [InlineData(3, 2, 1)]
    public void AveragePool_MatchesReferenceExcludingPadding(int kernel, int stride, int pad)
    {
        var random = new Random(17);
        const int n = 2, c = 3, h = 6, w = 6;
        var input = OrtTestRunner.RandomData(random, n * c * h * w);
        var expected = ReferenceOps.AvgPool(input, n, c, h, w, kernel, stride, pad, out var oh, out var ow);

        var builder = new OnnxGraphBuilder("pool");
        var x = builder.AddInput("x", -1, c, h, w);
        var y = builder.AveragePool(x, kernel, stride, pad, "y");
        builder.AddOutput(y, -1, c, oh, ow);

        var result = OrtTestRunner.Run(builder.ToBytes(), ("x", new TensorData(input, [n, c, h, w])))["y"];

        Assert.Equal([n, c, oh, ow], result.Shape);
        OrtTestRunner.AssertClose(expected, result.Data);
    }

    [Fact]
    public void GlobalAveragePoolThenFlatten_MatchesReference()
    {
        var random = new Random(19);
        const int n = 3, c = 4, h = 5, w = 3;
        var input = OrtTestRunner.RandomData(random, n * c * h * w);

        var builder = new OnnxGraphBuilder("gap");
        var x = builder.AddInput("x", -1, c, h, w);
        var pooled = builder.GlobalAveragePool(x, "pooled");
        var flat = builder.Flatten(pooled, name: "flat");
        builder.AddOutput(pooled, -1, c, 1, 1);
        builder.AddOutput(flat, -1, c);

        var outputs = OrtTestRunner.Run(builder.ToBytes(), ("x", new TensorData(input, [n, c, h, w])));
        var expected = ReferenceOps.GlobalAvgPool(input, n, c, h * w);

        Assert.Equal([n, c, 1, 1], outputs["pooled"].Shape);
        Assert.Equal([n, c], outputs["flat"].Shape);
        OrtTestRunner.AssertClose(expected, outputs["pooled"].Data);
        OrtTestRunner.AssertClose(expected, outputs["flat"].Data);
    }

    [Fact]
    public void Flatten_KeepsLeadingAxesAndMergesTheRest()
    {
        var input = Enumerable.Range(0, 2 * 3 * 4).Select(i => (float)i).ToArray();
        var builder = new OnnxGraphBuilder("flatten");
        var x = builder.AddInput("x", 2, 3, 4);
        var y = builder.Flatten(x, axis: 2, name: "y");
        builder.AddOutput(y, 6, 4);

        var result = OrtTestRunner.Run(builder.ToBytes(), ("x", new TensorData(input, [2, 3, 4])))["y"];

        Assert.Equal([6L, 4], result.Shape);
        Assert.Equal(input, result.Data);
    }

    [Fact]
    public void AddReluSubMul_MatchElementwiseComputation()
    {
        var random = new Random(23);
        var a = OrtTestRunner.RandomData(random, 2 * 3);
        var b = OrtTestRunner.RandomData(random, 2 * 3);

        var builder = new OnnxGraphBuilder("elementwise");
        var ia = builder.AddInput("a", -1, 3);
        var ib = builder.AddInput("b", -1, 3);
        builder.AddOutput(builder.Relu(builder.Add(ia, ib), "relu_sum"), -1, 3);
        builder.AddOutput(builder.Sub(ia, ib, "diff"), -1, 3);
        builder.AddOutput(builder.Mul(ia, ib, "prod"), -1, 3);

        var outputs = OrtTestRunner.Run(
            builder.ToBytes(), ("a", new TensorData(a, [2, 3])), ("b", new TensorData(b, [2, 3])));

        OrtTestRunner.AssertClose(a.Zip(b, (x, y) => MathF.Max(0f, x + y)).ToArray(), outputs["relu_sum"].Data);
        OrtTestRunner.AssertClose(a.Zip(b, (x, y) => x - y).ToArray(), outputs["diff"].Data);
        OrtTestRunner.AssertClose(a.Zip(b, (x, y) => x * y).ToArray(), outputs["prod"].Data);
    }

    [Fact]
    public void Identity_ExposesValueUnderFixedName()
    {
        var builder = new OnnxGraphBuilder("identity");
        var x = builder.AddInput("x", -1, 2);
        builder.AddOutput(builder.Identity(builder.Relu(x), "named"), -1, 2);

        var result = OrtTestRunner.Run(builder.ToBytes(), ("x", new TensorData([-1f, 2f], [1, 2])))["named"];

        Assert.Equal([0f, 2f], result.Data);
    }
}
