using DfbNet.Cli.Import;

namespace DfbNet.Cli.Tests;

/// <summary>What <see cref="StageChain"/> makes of stage signatures that ONNX Runtime would report, without files.</summary>
public sealed class StageChainTests
{
    private static readonly string[] Batch = ["N", "", "", ""];

    [Fact]
    public void Resolve_FindsLogitsAndFeatureByShape_WhateverTheirOrderAndNames()
    {
        var chain = StageChain.Resolve(
            [
                Stage("s1", [Tensor("input.1", -1, 3, 32, 32)], [Tensor("onnx::Gemm_12", -1, 10), Tensor("/layer1/Relu_output_0", -1, 8, 16, 16)]),
                Stage("s2", [Tensor("x", 1, 8, 16, 16)], [Tensor("191", -1, 10)]),
            ],
            classCount: 10,
            inputSize: 32,
            [null, null],
            [null]);

        Assert.Equal(32, chain.InputSize);
        Assert.Equal(new StageNames("input.1", "onnx::Gemm_12", "/layer1/Relu_output_0"), chain.Stages[0]);
        Assert.Equal(new StageNames("x", "191", null), chain.Stages[1]);
    }

    [Theory]
    [InlineData("symbolic-side", "s1: input 'image' [N, 3, H, W] has a symbolic height or width; the server feeds one fixed size, so only the batch dimension may be dynamic (export with dynamic_axes={'image': {0: 'N'}})")]
    [InlineData("fixed-batch", "s2: input 'x' [4, 8, 16, 16] has a fixed batch of 4; export the batch dimension as dynamic (the server batches frames of many streams) or as 1")]
    [InlineData("two-inputs", "s2: has 2 inputs ('x' [N, 8, 16, 16], 'y' [N, 8, 16, 16]); a stage takes exactly one (stage 1 the image, each later stage the previous stage's feature)")]
    [InlineData("int-feature", "s1: feature 'f' [N, 8, 16, 16] holds Int64; stages exchange float32 tensors")]
    [InlineData("logits-only", "s1: returns only its logits; every stage but the last also returns the trunk feature the next stage takes (s2 takes 'x' [N, 8, 16, 16])")]
    public void Resolve_StagesTheServerCannotRun_SayWhyInOneLine(string problem, string message)
    {
        GraphSignature[] stages = problem switch
        {
            "symbolic-side" => [Stage("s1", [new GraphTensor("image", [-1, 3, -1, -1], ["N", "", "H", "W"], "Float")], [Tensor("l", -1, 10)])],
            "fixed-batch" => [Stage1(), Stage("s2", [Tensor("x", 4, 8, 16, 16)], [Tensor("l2", -1, 10)])],
            "two-inputs" => [Stage1(), Stage("s2", [Tensor("x", -1, 8, 16, 16), Tensor("y", -1, 8, 16, 16)], [Tensor("l2", -1, 10)])],
            "int-feature" => [Stage("s1", [Tensor("image", -1, 3, 32, 32)], [Tensor("l", -1, 10), Tensor("f", -1, 8, 16, 16) with { ElementType = "Int64" }]), Stage2()],
            _ => [Stage("s1", [Tensor("image", -1, 3, 32, 32)], [Tensor("l", -1, 10)]), Stage2()],
        };

        var ex = Assert.Throws<ImportException>(() => StageChain.Resolve(stages, 10, null, [.. stages.Select(_ => (string?)null)], [.. stages.Skip(1).Select(_ => (string?)null)]));
        Assert.Equal(message, ex.Message);
    }

    private static GraphSignature Stage1() => Stage("s1", [Tensor("image", -1, 3, 32, 32)], [Tensor("l", -1, 10), Tensor("f", -1, 8, 16, 16)]);

    private static GraphSignature Stage2() => Stage("s2", [Tensor("x", -1, 8, 16, 16)], [Tensor("l2", -1, 10)]);

    private static GraphSignature Stage(string label, GraphTensor[] inputs, GraphTensor[] outputs) => new(label, inputs, outputs);

    private static GraphTensor Tensor(string name, params long[] dims) => new(name, dims, Batch[..dims.Length], "Float");
}
