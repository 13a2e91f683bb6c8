namespace DfbNet.Core.Onnx;

/// <summary>Knobs for <see cref="SyntheticDfbNet.Build"/>; defaults give a ~33k-parameter three-stage network.</summary>
public sealed class SyntheticDfbNetOptions
{
    public int ClassCount { get; init; } = 10;

    /// <summary>Square input side (H = W). Must be at least 16 and divisible by 8.</summary>
    public int InputSize { get; init; } = 32;

    public int Seed { get; init; } = 1;

    /// <summary>Trunk channel count per stage; its length is the number of stages (exits).</summary>
    public IReadOnlyList<int> StageWidths { get; init; } = [8, 16, 32];

    /// <summary>Channel count of the side-branch conv in each early exit head.</summary>
    public int BranchWidth { get; init; } = 8;

    /// <summary>
    /// Multiplies the classifier weights. Random weights otherwise give near-uniform softmax
    /// outputs, and early-exit tests need confidences that actually cross thresholds.
    /// </summary>
    public float LogitScale { get; init; } = 4f;
}

/// <summary>One stage of a synthetic network: a standalone ONNX model plus the facts a runtime needs.</summary>
/// <param name="Index">1-based stage number.</param>
/// <param name="InputShape">Input shape without the batch dimension.</param>
/// <param name="FeatureName">Trunk output fed to the next stage; null for the last stage.</param>
/// <param name="FeatureShape">Feature shape without the batch dimension; null for the last stage.</param>
/// <param name="Parameters">Initializer element count of this stage's model.</param>
/// <param name="Flops">Multiply-accumulates per image of the stage's Conv and Gemm nodes.</param>
public sealed record SyntheticStage(
    int Index,
    byte[] Model,
    string InputName,
    long[] InputShape,
    string LogitsName,
    string? FeatureName,
    long[]? FeatureShape,
    long Parameters,
    long Flops);

/// <summary>
/// Generates a small DFB-Net-shaped early-exit network as one ONNX model per stage, with
/// seeded random weights, so the runtime can be exercised without trained artefacts.
/// Stage s: input -> Conv3x3 -> BN -> Relu -> residual basic block -> trunk; the trunk is
/// exported as "feature{s}" (except the last stage) and feeds an exit head producing "logits{s}".
/// </summary>
public static class SyntheticDfbNet
{
    private const int ImageChannels = 3;
    private const string ImageInputName = "image";

    public static IReadOnlyList<SyntheticStage> Build(SyntheticDfbNetOptions? options = null)
    {
        options ??= new SyntheticDfbNetOptions();
        Validate(options);

        // One generator for the whole network so a seed fixes every stage's weights.
        var random = new Random(options.Seed);
        var stages = new List<SyntheticStage>(options.StageWidths.Count);
        var channels = ImageChannels;
        var size = options.InputSize;
        for (var s = 1; s <= options.StageWidths.Count; s++)
        {
            var stage = BuildStage(s, options, random, channels, size);
            stages.Add(stage);
            if (stage.FeatureShape is { } featureShape)
            {
                channels = (int)featureShape[0];
                size = (int)featureShape[1];
            }
        }

        return stages;
    }

    private static SyntheticStage BuildStage(int s, SyntheticDfbNetOptions options, Random random, int inChannels, int inSize)
    {
        var isLast = s == options.StageWidths.Count;
        var width = options.StageWidths[s - 1];
        var inputName = s == 1 ? ImageInputName : $"feature{s - 1}";
        var g = new StageGraph(new OnnxGraphBuilder($"dfbnet_stage{s}"), random, $"s{s}");

        var x = g.Builder.AddInput(inputName, -1, inChannels, inSize, inSize);

        // Later stages downsample on entry, as each DFB-Net stage halves the resolution.
        var trunkStride = s == 1 ? 1 : 2;
        var (trunk, size) = g.ConvBnRelu(x, inChannels, width, inSize, trunkStride, "stem");

        var blockIn = trunk;
        var (h, _) = g.ConvBnRelu(blockIn, width, width, size, 1, "block.conv1");
        var (h2, _) = g.ConvBn(h, width, width, size, 1, "block.conv2");
        trunk = g.Builder.Relu(g.Builder.Add(h2, blockIn));

        string? featureName = null;
        long[]? featureShape = null;
        string pooled;
        int headIn;
        if (isLast)
        {
            pooled = g.Builder.GlobalAveragePool(trunk);
            headIn = width;
        }
        else
        {
            featureName = g.Builder.Identity(trunk, $"feature{s}");
            featureShape = [width, size, size];
            g.Builder.AddOutput(featureName, -1, width, size, size);

            // The side branch is a complete small classifier: its own conv, local pooling, then a linear head.
            var (branch, _) = g.ConvBnRelu(trunk, width, options.BranchWidth, size, 2, "exit.conv");
            var pooledLocal = g.Builder.AveragePool(branch, kernel: 2, stride: 2);
            pooled = g.Builder.GlobalAveragePool(pooledLocal);
            headIn = options.BranchWidth;
        }

        var flat = g.Builder.Flatten(pooled, axis: 1);
        var logitsName = $"logits{s}";
        var fcWeight = g.Normal($"{g.Prefix}.fc.weight", options.LogitScale / MathF.Sqrt(headIn), options.ClassCount, headIn);
        var fcBias = g.Normal($"{g.Prefix}.fc.bias", 0.1f, options.ClassCount);
        g.Builder.Gemm(flat, fcWeight, fcBias, transB: true, name: logitsName);
        g.Macs += (long)headIn * options.ClassCount;
        g.Builder.AddOutput(logitsName, -1, options.ClassCount);

        return new SyntheticStage(
            s,
            g.Builder.ToBytes(),
            inputName,
            [inChannels, inSize, inSize],
            logitsName,
            featureName,
            featureShape,
            g.Builder.ParameterCount,
            g.Macs);
    }

    private static void Validate(SyntheticDfbNetOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ClassCount, 2, nameof(options.ClassCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BranchWidth, 1, nameof(options.BranchWidth));
        if (options.StageWidths is null || options.StageWidths.Count == 0 || options.StageWidths.Any(w => w < 1))
        {
            throw new ArgumentException("StageWidths needs at least one positive width.", nameof(options));
        }

        if (options.InputSize < 16 || options.InputSize % 8 != 0)
        {
            throw new ArgumentException("InputSize must be >= 16 and divisible by 8.", nameof(options));
        }

        // Walk the spatial sizes so a too-deep network fails here, not inside ONNX Runtime.
        var size = options.InputSize;
        for (var s = 1; s <= options.StageWidths.Count; s++)
        {
            size = ConvOut(size, 3, s == 1 ? 1 : 2, 1);
            if (s < options.StageWidths.Count && ConvOut(size, 3, 2, 1) < 2)
            {
                throw new ArgumentException(
                    $"InputSize {options.InputSize} is too small for {options.StageWidths.Count} stages.", nameof(options));
            }
        }
    }

    internal static int ConvOut(int size, int kernel, int stride, int pad) => ((size + (2 * pad) - kernel) / stride) + 1;

    /// <summary>Per-stage builder state: weight generation and MAC accounting.</summary>
    private sealed class StageGraph(OnnxGraphBuilder builder, Random random, string prefix)
    {
        public OnnxGraphBuilder Builder { get; } = builder;

        public string Prefix { get; } = prefix;

        public long Macs { get; set; }

        public (string Output, int Size) ConvBnRelu(string x, int cin, int cout, int size, int stride, string name)
        {
            var (bn, outSize) = ConvBn(x, cin, cout, size, stride, name);
            return (Builder.Relu(bn), outSize);
        }

        public (string Output, int Size) ConvBn(string x, int cin, int cout, int size, int stride, string name)
        {
            const int kernel = 3;
            const int pad = 1;
            var p = $"{Prefix}.{name}";

            // He-normal keeps activation variance roughly constant through Conv+Relu.
            var weight = Normal($"{p}.weight", MathF.Sqrt(2f / (cin * kernel * kernel)), cout, cin, kernel, kernel);
            var conv = Builder.Conv(x, weight, bias: null, stride: stride, pad: pad);
            var outSize = ConvOut(size, kernel, stride, pad);
            Macs += (long)cout * outSize * outSize * cin * kernel * kernel;

            // Non-trivial statistics so BatchNormalization actually transforms its input.
            var scale = Uniform($"{p}.bn.scale", 0.5f, 1.5f, cout);
            var bias = Normal($"{p}.bn.bias", 0.1f, cout);
            var mean = Normal($"{p}.bn.mean", 0.1f, cout);
            var variance = Uniform($"{p}.bn.var", 0.5f, 1.5f, cout);
            return (Builder.BatchNormalization(conv, scale, bias, mean, variance), outSize);
        }

        public string Normal(string name, float std, params long[] dims)
        {
            var data = new float[Count(dims)];
            for (var i = 0; i < data.Length; i++)
            {
                // Box-Muller; 1 - NextDouble() avoids log(0).
                var u1 = 1.0 - random.NextDouble();
                var u2 = random.NextDouble();
                data[i] = (float)(std * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
            }

            return Builder.AddInitializer(name, data, dims);
        }

        public string Uniform(string name, float min, float max, params long[] dims)
        {
            var data = new float[Count(dims)];
            for (var i = 0; i < data.Length; i++)
            {
                data[i] = min + ((max - min) * (float)random.NextDouble());
            }

            return Builder.AddInitializer(name, data, dims);
        }

        private static int Count(long[] dims) => (int)dims.Aggregate(1L, (a, d) => a * d);
    }
}
