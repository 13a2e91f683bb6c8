using DfbNet.Core.Onnx;
using DfbNet.Training.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DfbNet.Training.Export;

/// <summary>One exported stage: the ONNX bytes, its value names and its cost.</summary>
public sealed record ExportedStage(int Index, byte[] Model, string InputName, string LogitsName, string? FeatureName, long Flops, long Parameters);

/// <summary>
/// Writes each stage of a trained <see cref="DfbNetModel"/> as an inference graph. Eval-mode BN is folded into the
/// convolution before it where nothing else reads that convolution's output (BN2 of every block); BN1 reads an Add
/// or the stem, whose output the shortcut also uses, so it stays a BatchNormalization node. Dropout is left out.
/// </summary>
internal static class OnnxStageExporter
{
    public const string ImageInput = "image";

    /// <summary>Every stage of the model, stage 1 first.</summary>
    public static IReadOnlyList<ExportedStage> ExportStages(DfbNetModel model)
    {
        var config = model.Config;
        var stages = new List<ExportedStage>();
        var channels = 3;
        var size = config.TestSize;
        for (var s = 0; s < model.ExitCount; s++)
        {
            var last = s == model.ExitCount - 1;
            var builder = new OnnxGraphBuilder($"dfbnet_stage{s + 1}");
            var input = s == 0 ? ImageInput : $"feature{s}";
            builder.AddInput(input, -1, channels, size, size);
            var cost = new Cost();
            var feature = EmitSegment(builder, model.Segments[s], input, ref channels, ref size, cost, $"s{s + 1}");
            var logitsName = $"logits{s + 1}";
            var headChannels = channels;
            var headSize = size;
            EmitHead(builder, model.Heads[s], feature, ref headChannels, ref headSize, cost, $"e{s + 1}", logitsName);
            builder.AddOutput(logitsName, -1, config.Classes);
            string? featureName = null;
            if (!last)
            {
                featureName = $"feature{s + 1}";
                builder.Identity(feature, featureName);
                builder.AddOutput(featureName, -1, channels, size, size);
            }

            var parameters = DfbNetModel.Count(model.Segments[s].parameters()) + DfbNetModel.Count(model.Heads[s].parameters());
            stages.Add(new ExportedStage(s + 1, builder.ToBytes(), input, logitsName, featureName, cost.Macs, parameters));
        }

        return stages;
    }

    private static string EmitSegment(OnnxGraphBuilder b, TrunkSegment segment, string x, ref int channels, ref int size, Cost cost, string prefix)
    {
        if (segment.Stem is { } stem)
        {
            var w = b.AddInitializer($"{prefix}_stem_w", Data(stem.weight!), Shape(stem.weight!));
            x = b.Conv(x, w, null, stride: 1, pad: 1);
            cost.Conv(stem.weight!, size);
            channels = (int)stem.weight!.shape[0];
        }

        for (var i = 0; i < segment.Blocks.Count; i++)
        {
            x = EmitBlock(b, segment.Blocks[i], x, ref channels, ref size, cost, $"{prefix}_b{i}");
        }

        return x;
    }

    private static void EmitHead(OnnxGraphBuilder b, ExitHead head, string x, ref int channels, ref int size, Cost cost, string prefix, string logitsName)
    {
        for (var i = 0; i < head.Blocks.Count; i++)
        {
            x = EmitBlock(b, head.Blocks[i], x, ref channels, ref size, cost, $"{prefix}_b{i}");
        }

        x = b.Relu(BatchNorm(b, head.Bn, x, $"{prefix}_bn"));
        x = b.Flatten(b.GlobalAveragePool(x));
        var linear = head.Classifier;
        var w = b.AddInitializer($"{prefix}_fc_w", Data(linear.weight!), Shape(linear.weight!));
        var bias = b.AddInitializer($"{prefix}_fc_b", Data(linear.bias!), Shape(linear.bias!));
        b.Gemm(x, w, bias, transB: true, name: logitsName);
        cost.Macs += linear.weight!.numel();
    }

    private static string EmitBlock(OnnxGraphBuilder b, WideBasicBlock block, string x, ref int channels, ref int size, Cost cost, string prefix)
    {
        var o1 = b.Relu(BatchNorm(b, block.Bn1, x, $"{prefix}_bn1"));
        var (w1, b1) = FoldBatchNorm(block.Conv1, block.Bn2);
        var c1 = b.Conv(o1, b.AddInitializer($"{prefix}_conv1_w", w1, Shape(block.Conv1.weight!)), b.AddInitializer($"{prefix}_conv1_b", b1, b1.Length), stride: block.Stride, pad: 1);
        var inSize = size;
        size = ((size - 1) / block.Stride) + 1;
        cost.Conv(block.Conv1.weight!, size);
        var o2 = b.Relu(c1);
        var c2 = b.Conv(o2, b.AddInitializer($"{prefix}_conv2_w", Data(block.Conv2.weight!), Shape(block.Conv2.weight!)), null, stride: 1, pad: 1);
        cost.Conv(block.Conv2.weight!, size);
        var shortcut = x;
        if (block.Projection is { } projection)
        {
            shortcut = b.Conv(o1, b.AddInitializer($"{prefix}_proj_w", Data(projection.weight!), Shape(projection.weight!)), null, stride: block.Stride, pad: 0);
            cost.Conv(projection.weight!, size);
        }

        _ = inSize;
        channels = block.OutChannels;
        return b.Add(c2, shortcut);
    }

    private static string BatchNorm(OnnxGraphBuilder b, BatchNorm2d bn, string x, string prefix)
    {
        var n = (int)bn.num_features;
        return b.BatchNormalization(
            x,
            b.AddInitializer($"{prefix}_scale", Data(bn.weight!), n),
            b.AddInitializer($"{prefix}_bias", Data(bn.bias!), n),
            b.AddInitializer($"{prefix}_mean", Data(bn.running_mean!), n),
            b.AddInitializer($"{prefix}_var", Data(bn.running_var!), n),
            epsilon: (float)bn.eps);
    }

    /// <summary>conv followed by eval-mode BN == conv with weights scaled per output channel and a bias (computed in double).</summary>
    internal static (float[] Weight, float[] Bias) FoldBatchNorm(Conv2d conv, BatchNorm2d bn)
    {
        var w = Data(conv.weight!);
        var gamma = Data(bn.weight!);
        var beta = Data(bn.bias!);
        var mean = Data(bn.running_mean!);
        var variance = Data(bn.running_var!);
        var outChannels = gamma.Length;
        var perChannel = w.Length / outChannels;
        var folded = new float[w.Length];
        var bias = new float[outChannels];
        for (var o = 0; o < outChannels; o++)
        {
            var a = gamma[o] / Math.Sqrt(variance[o] + bn.eps);
            for (var i = 0; i < perChannel; i++)
            {
                folded[(o * perChannel) + i] = (float)(w[(o * perChannel) + i] * a);
            }

            bias[o] = (float)(beta[o] - (mean[o] * a));
        }

        return (folded, bias);
    }

    private static float[] Data(Tensor t) => t.detach().cpu().contiguous().data<float>().ToArray();

    private static long[] Shape(Tensor t) => t.shape;

    /// <summary>Multiply-accumulates of one image, convolutions and linear layers.</summary>
    private sealed class Cost
    {
        public long Macs { get; set; }

        public void Conv(Tensor weight, int outSize) => Macs += weight.numel() * outSize * outSize;
    }
}
