using DfbNet.Training.Data;
using DfbNet.Training.Model;
using Google.Protobuf;
using DfbNet.Core.Onnx.Proto;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DfbNet.Training.Export;

/// <summary>
/// Reads exported stages back into a <see cref="DfbNetModel"/> of the same shape: the inverse of
/// <see cref="OnnxStageExporter"/>, so that training can continue from an exported model.
/// </summary>
/// <remarks>
/// Export folds each block's second batch norm (BN2) into the convolution before it, and the fold cannot be undone:
/// only the folded weights and a bias survive. The imported block gets the folded convolution and a BN2 rebuilt from
/// statistics of that convolution's output on real images, with scale and shift chosen so that in eval mode the block
/// computes exactly what the file does, and in train mode (batch statistics close to those) nearly so.
/// </remarks>
internal static class OnnxWeightImporter
{
    /// <summary>Training images whose statistics rebuild the folded batch norms: enough for a per-channel mean and variance
    /// within a fraction of a percent, a few seconds on a CPU.</summary>
    public const int StatisticsImages = 2000;

    /// <summary>Copies every stage file's weights into <paramref name="model"/>, stage 1 first, then rebuilds BN2 from
    /// <paramref name="statistics"/> images (eval recipe) of <paramref name="data"/>.</summary>
    public static void Import(DfbNetModel model, IReadOnlyList<string> stageFiles, ImageDataset data, InputRecipe recipe, int statistics = StatisticsImages)
    {
        if (stageFiles.Count != model.ExitCount)
        {
            throw new ArgumentException($"The model folder has {stageFiles.Count} stages; the network of this run has {model.ExitCount} exits. Give the --preset and --branches it was trained with.");
        }

        var folded = new Dictionary<WideBasicBlock, Tensor>();
        using (no_grad())
        {
            for (var s = 0; s < stageFiles.Count; s++)
            {
                var file = stageFiles[s];
                var initializers = Read(file);
                var used = new HashSet<string>();
                var reader = new Reader(file, initializers, used);
                var segment = model.Segments[s];
                var prefix = $"s{s + 1}";
                if (segment.Stem is { } stem)
                {
                    reader.Copy($"{prefix}_stem_w", stem.weight!);
                }

                for (var i = 0; i < segment.Blocks.Count; i++)
                {
                    folded[segment.Blocks[i]] = ImportBlock(reader, segment.Blocks[i], $"{prefix}_b{i}");
                }

                var head = model.Heads[s];
                var headPrefix = $"e{s + 1}";
                for (var i = 0; i < head.Blocks.Count; i++)
                {
                    folded[head.Blocks[i]] = ImportBlock(reader, head.Blocks[i], $"{headPrefix}_b{i}");
                }

                reader.CopyBatchNorm($"{headPrefix}_bn", head.Bn);
                reader.Copy($"{headPrefix}_fc_w", head.Classifier.weight!);
                reader.Copy($"{headPrefix}_fc_b", head.Classifier.bias!);
                if (initializers.Keys.FirstOrDefault(n => !used.Contains(n)) is { } extra)
                {
                    throw new InvalidDataException($"{file}: weight '{extra}' has no place in the network of this run; give the --preset and --branches the model was trained with.");
                }
            }
        }

        RebuildFoldedBatchNorms(model, folded, data, recipe, statistics);
    }

    /// <summary>The block's weights; BN2 set to add the folded bias (exact in eval mode) until its statistics are known.
    /// Returns that bias.</summary>
    private static Tensor ImportBlock(Reader reader, WideBasicBlock block, string prefix)
    {
        reader.CopyBatchNorm($"{prefix}_bn1", block.Bn1);
        reader.Copy($"{prefix}_conv1_w", block.Conv1.weight!);
        var bias = reader.Values($"{prefix}_conv1_b", block.Bn2.bias!.shape);
        reader.Copy($"{prefix}_conv2_w", block.Conv2.weight!);
        if (block.Projection is { } projection)
        {
            reader.Copy($"{prefix}_proj_w", projection.weight!);
        }

        var bn = block.Bn2;
        bn.weight!.fill_(1);
        bn.bias!.copy_(bias);
        bn.running_mean!.zero_();
        bn.running_var!.fill_(1 - bn.eps);
        return bias;
    }

    /// <summary>
    /// BN2 from the mean m and variance v of its input z (the folded convolution's output) over real images:
    /// running statistics (m, v), scale sqrt(v + eps), shift m + b. In eval mode that is z + b, the file's value.
    /// </summary>
    private static void RebuildFoldedBatchNorms(DfbNetModel model, Dictionary<WideBasicBlock, Tensor> folded, ImageDataset data, InputRecipe recipe, int statistics)
    {
        var count = Math.Min(statistics, data.Count);
        if (count == 0)
        {
            throw new ArgumentException("No training images to measure the batch-norm statistics on.");
        }

        var sums = folded.Keys.ToDictionary(b => b, b => (Sum: zeros(b.OutChannels, dtype: float64), Squares: zeros(b.OutChannels, dtype: float64), Count: 0L));
        var device = model.Heads[0].Classifier.weight!.device;
        model.eval();
        using (no_grad())
        {
            const int batch = 250;
            for (var start = 0; start < count; start += batch)
            {
                using var scope = NewDisposeScope();
                var (x, _) = BatchBuilder.Test(data, start, Math.Min(batch, count - start), recipe);
                x = x.to(device);
                for (var s = 0; s < model.ExitCount; s++)
                {
                    var segment = model.Segments[s];
                    if (segment.Stem is { } stem)
                    {
                        x = stem.forward(x);
                    }

                    foreach (var block in segment.Blocks)
                    {
                        x = Measure(block, x, sums);
                    }

                    var h = x;
                    foreach (var block in model.Heads[s].Blocks)
                    {
                        h = Measure(block, h, sums);
                    }
                }
            }

            foreach (var (block, (sum, squares, n)) in sums)
            {
                var mean = sum.div(n);
                var variance = squares.div(n).sub(mean.square()).clamp_min(0);
                var bn = block.Bn2;
                bn.running_mean!.copy_(mean.to_type(ScalarType.Float32));
                bn.running_var!.copy_(variance.to_type(ScalarType.Float32));
                bn.weight!.copy_(variance.add(bn.eps).sqrt().to_type(ScalarType.Float32));
                bn.bias!.copy_(mean.to_type(ScalarType.Float32).add(folded[block]));
                sum.Dispose();
                squares.Dispose();
                mean.Dispose();
                variance.Dispose();
                folded[block].Dispose();
            }
        }
    }

    private static Tensor Measure(WideBasicBlock block, Tensor x, Dictionary<WideBasicBlock, (Tensor Sum, Tensor Squares, long Count)> sums)
    {
        var z = block.Conv1.forward(nn.functional.relu(block.Bn1.forward(x))).to_type(ScalarType.Float64).cpu();
        var (sum, squares, n) = sums[block];
        sum.add_(z.sum([0, 2, 3]));
        squares.add_(z.square().sum([0, 2, 3]));
        sums[block] = (sum, squares, n + (z.shape[0] * z.shape[2] * z.shape[3]));
        return block.forward(x);
    }

    private static Dictionary<string, TensorProto> Read(string file)
    {
        ModelProto proto;
        try
        {
            proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(file));
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new InvalidDataException($"{file}: not an ONNX model ({ex.Message}).", ex);
        }

        return proto.Graph.Initializer.ToDictionary(t => t.Name);
    }

    /// <summary>Named weights of one file, copied into tensors of the expected shape.</summary>
    private sealed class Reader(string file, Dictionary<string, TensorProto> initializers, HashSet<string> used)
    {
        public void Copy(string name, Tensor target)
        {
            using var values = Values(name, target.shape);
            target.copy_(values);
        }

        public void CopyBatchNorm(string prefix, BatchNorm2d bn)
        {
            Copy($"{prefix}_scale", bn.weight!);
            Copy($"{prefix}_bias", bn.bias!);
            Copy($"{prefix}_mean", bn.running_mean!);
            Copy($"{prefix}_var", bn.running_var!);
        }

        public Tensor Values(string name, long[] shape)
        {
            if (!initializers.TryGetValue(name, out var proto))
            {
                throw new InvalidDataException($"{file}: no weight '{name}'; it is not a stage of a DfbNet export of the network this run describes (give the --preset and --branches the model was trained with).");
            }

            if (!proto.Dims.SequenceEqual(shape))
            {
                throw new InvalidDataException($"{file}: weight '{name}' has shape [{string.Join(",", proto.Dims)}]; the network of this run needs [{string.Join(",", shape)}] (give the --preset and --branches the model was trained with).");
            }

            if (proto.DataType != (int)TensorProto.Types.DataType.Float)
            {
                throw new InvalidDataException($"{file}: weight '{name}' is not 32-bit float (an fp16 model folder cannot be trained on; export one again from its checkpoint).");
            }

            used.Add(name);
            var values = proto.RawData.Length > 0
                ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(proto.RawData.Span).ToArray()
                : [.. proto.FloatData];
            return tensor(values, shape);
        }
    }
}
