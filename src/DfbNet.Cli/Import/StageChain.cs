namespace DfbNet.Cli.Import;

/// <summary>The input and outputs of one stage file that the manifest names (the file's own names).</summary>
/// <param name="Feature">The trunk feature handed to the next stage; null on the last stage.</param>
internal sealed record StageNames(string Input, string Logits, string? Feature);

/// <summary>What <see cref="StageChain.Resolve"/> found: the square input side, and each stage's names.</summary>
internal sealed record ResolvedChain(int InputSize, IReadOnlyList<StageNames> Stages);

/// <summary>
/// Tells, from shapes, which input and outputs of each stage file the manifest names, and checks that the files form a
/// DFB-Net the server can run: stage 1 takes <c>[N, 3, S, S]</c>, each stage has one input, logits <c>[N, classes]</c>,
/// and (all but the last) a feature output of exactly the shape the next stage takes. Names given by the user settle
/// what shapes cannot. Every problem is one <see cref="ImportException"/> naming the file and what was expected.
/// </summary>
internal static class StageChain
{
    public const string LogitsOption = "--logits-output";
    public const string FeatureOption = "--feature-output";

    /// <param name="stages">The stage files, in order.</param>
    /// <param name="classCount">The number of class names.</param>
    /// <param name="inputSize">The square input side the user expects, or null to read it from stage 1.</param>
    /// <param name="logitsNames">Per stage, the logits output's name, or null to find it by shape.</param>
    /// <param name="featureNames">Per stage but the last, the feature output's name, or null to find it by shape.</param>
    public static ResolvedChain Resolve(IReadOnlyList<GraphSignature> stages, int classCount, int? inputSize, IReadOnlyList<string?> logitsNames, IReadOnlyList<string?> featureNames)
    {
        ArgumentNullException.ThrowIfNull(stages);
        var size = ImageSide(stages[0], inputSize);
        var inputs = stages.Select((stage, s) => s == 0 ? SingleInput(stage) : CheckTensor(stage, SingleInput(stage), "input")).ToList();
        var names = new List<StageNames>(stages.Count);
        for (var s = 0; s < stages.Count; s++)
        {
            var logits = Logits(stages[s], classCount, logitsNames[s]);
            var feature = s < stages.Count - 1 ? Feature(stages[s], logits, stages[s + 1], inputs[s + 1], featureNames[s]) : null;
            names.Add(new StageNames(inputs[s].Name, logits.Name, feature?.Name));
        }

        return new ResolvedChain(size, names);
    }

    /// <summary>The baseline's logits output: it takes what stage 1 takes and returns one <c>[N, classes]</c> output.</summary>
    public static StageNames ResolveBaseline(GraphSignature baseline, GraphSignature stage1, int classCount)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        var input = SingleInput(baseline);
        var image = SingleInput(stage1);
        if (!input.SameImageShape(image))
        {
            throw new ImportException($"{baseline.Label}: input {input} does not take what {stage1.Label} takes ({image}); the baseline is the whole network from the same image to the logits");
        }

        return new StageNames(input.Name, Logits(baseline, classCount, named: null).Name, null);
    }

    /// <summary>Stage 1 reads the preprocessed image: float32 <c>[N, 3, S, S]</c>, S fixed.</summary>
    private static int ImageSide(GraphSignature stage1, int? expected)
    {
        var input = SingleInput(stage1);
        var dims = input.Dims;
        if (dims.Length != 4 || dims[1] != 3)
        {
            throw new ImportException($"{stage1.Label}: input {input} is not a batch of RGB images; the server feeds [N, 3, H, W] (NCHW, 3 channels)");
        }

        if (dims[2] <= 0 || dims[3] <= 0)
        {
            throw new ImportException($"{stage1.Label}: input {input} has a symbolic height or width; the server feeds one fixed size, so only the batch dimension may be dynamic (export with dynamic_axes={{'{input.Name}': {{0: 'N'}}}})");
        }

        if (dims[2] != dims[3])
        {
            throw new ImportException($"{stage1.Label}: input {input} is not square; the server feeds square images (H = W)");
        }

        if (expected is { } side && side != dims[2])
        {
            throw new ImportException($"--input-size {side}: {stage1.Label} takes {dims[2]}x{dims[3]} (input {input})");
        }

        return checked((int)dims[2]);
    }

    private static GraphTensor SingleInput(GraphSignature graph)
    {
        if (graph.Inputs.Count != 1)
        {
            throw new ImportException($"{graph.Label}: has {graph.Inputs.Count} inputs ({graph.DescribeOutputs(graph.Inputs)}); a stage takes exactly one (stage 1 the image, each later stage the previous stage's feature)");
        }

        var input = CheckFloat(graph, graph.Inputs[0], "input");
        if (input.Dims[0] > 1)
        {
            throw new ImportException($"{graph.Label}: input {input} has a fixed batch of {input.Dims[0]}; export the batch dimension as dynamic (the server batches frames of many streams) or as 1");
        }

        return input;
    }

    private static GraphTensor Logits(GraphSignature graph, int classCount, string? named)
    {
        if (named is not null)
        {
            var output = Named(graph, named, LogitsOption);
            if (output.Dims.Length != 2 || output.Dims[1] != classCount)
            {
                throw new ImportException($"{graph.Label}: logits {output} do not have one value per class; --classes names {classCount}, so the logits are [N, {classCount}]");
            }

            return output;
        }

        var candidates = graph.Outputs.Where(o => o.Dims.Length == 2 && o.Dims[1] == classCount).ToList();
        return candidates.Count switch
        {
            1 => CheckTensor(graph, candidates[0], "logits"),
            0 => throw new ImportException($"{graph.Label}: no output has shape [N, {classCount}] (one logit for each of the {classCount} classes of --classes); its outputs: {graph.DescribeOutputs()}"),
            _ => throw new ImportException($"{graph.Label}: outputs {string.Join(" and ", candidates)} all have the logits' shape [N, {classCount}]; name the logits with {LogitsOption} NAME (once for every stage, or once per stage in order)"),
        };
    }

    private static GraphTensor Feature(GraphSignature graph, GraphTensor logits, GraphSignature next, GraphTensor nextInput, string? named)
    {
        var others = graph.Outputs.Where(o => o.Name != logits.Name).ToList();
        GraphTensor feature;
        if (named is not null)
        {
            feature = Named(graph, named, FeatureOption);
            if (feature.Name == logits.Name)
            {
                throw new ImportException($"{FeatureOption} '{named}': that is {graph.Label}'s logits output; the feature is the trunk output the next stage takes");
            }
        }
        else
        {
            var candidates = others.Where(o => o.SameImageShape(nextInput)).ToList();
            feature = candidates.Count switch
            {
                1 => candidates[0],
                0 when others.Count == 0 => throw new ImportException($"{graph.Label}: returns only its logits; every stage but the last also returns the trunk feature the next stage takes ({next.Label} takes {nextInput})"),
                0 => throw new ImportException($"{graph.Label} and {next.Label} do not chain: {next.Label} takes {nextInput}, and no output of {graph.Label} has that shape (its outputs besides the logits: {graph.DescribeOutputs(others)})"),
                _ => throw new ImportException($"{graph.Label}: outputs {string.Join(" and ", candidates)} all have the shape {next.Label} takes; name the feature with {FeatureOption} NAME (once for every stage but the last, or once per such stage in order)"),
            };
        }

        CheckTensor(graph, feature, "feature");
        if (!feature.SameImageShape(nextInput))
        {
            throw new ImportException($"{graph.Label} and {next.Label} do not chain: feature {feature} is not the shape {next.Label} takes ({nextInput})");
        }

        return feature;
    }

    private static GraphTensor Named(GraphSignature graph, string name, string option) =>
        graph.Outputs.FirstOrDefault(o => o.Name == name)
        ?? throw new ImportException($"{option} '{name}': {graph.Label} has no such output (its outputs: {graph.DescribeOutputs()})");

    /// <summary>Stages exchange float32 tensors with a batch dimension.</summary>
    private static GraphTensor CheckFloat(GraphSignature graph, GraphTensor tensor, string role)
    {
        if (!tensor.IsFloat)
        {
            throw new ImportException($"{graph.Label}: {role} {tensor} holds {tensor.ElementType}; stages exchange float32 tensors");
        }

        if (tensor.Dims.Length < 2)
        {
            throw new ImportException($"{graph.Label}: {role} {tensor} has rank {tensor.Dims.Length}; stages exchange tensors with a batch dimension and at least one more");
        }

        return tensor;
    }

    /// <summary>A float32 tensor whose every dimension but the batch is fixed: the server sizes its buffers from them.</summary>
    private static GraphTensor CheckTensor(GraphSignature graph, GraphTensor tensor, string role)
    {
        CheckFloat(graph, tensor, role);
        if (!tensor.PerImageFixed)
        {
            throw new ImportException($"{graph.Label}: {role} {tensor} has a symbolic dimension after the batch; only the batch dimension may be dynamic (the server sizes its buffers from the others)");
        }

        return tensor;
    }
}
