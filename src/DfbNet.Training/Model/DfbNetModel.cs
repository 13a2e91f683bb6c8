using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DfbNet.Training.Model;

/// <summary>
/// A DFB-Net as M stages, cut exactly at the branch points: stage s = trunk segment s + exit head s, so the ONNX
/// export and the server see the same split. Exit M's head is the main branch's BN-ReLU-GAP-Linear.
/// </summary>
internal sealed class DfbNetModel : nn.Module<Tensor, Tensor[]>
{
    public readonly ModuleList<TrunkSegment> Segments;
    public readonly ModuleList<ExitHead> Heads;

    public DfbNetModel(DfbNetConfig config)
        : base("dfbnet")
    {
        config.Validate();
        Config = config;
        var stem = nn.Conv2d(3, DfbNetConfig.StemWidth, 3, padding: 1, bias: false);

        // Main blocks in order with their (group, index) so branch points can cut the list.
        var segments = new List<TrunkSegment>();
        var heads = new List<ExitHead>();
        var current = new List<WideBasicBlock>();
        var channels = DfbNetConfig.StemWidth;
        var branchIndex = 0;
        for (var g = 0; g < 4; g++)
        {
            var width = config.MainWidth(g);
            for (var b = 0; b < config.Blocks; b++)
            {
                var stride = g > 0 && b == 0 ? 2 : 1;
                current.Add(new WideBasicBlock($"g{g}b{b}", channels, width, stride, config.Dropout));
                channels = width;
                if (branchIndex < config.Branches.Count && config.Branches[branchIndex] is var branch
                    && branch.AfterGroup == g && branch.AfterBlock == b + 1)
                {
                    segments.Add(new TrunkSegment($"segment{segments.Count + 1}", segments.Count == 0 ? stem : null, current));
                    heads.Add(BuildBranchHead(heads.Count + 1, branch, channels, config));
                    current = [];
                    branchIndex++;
                }
            }
        }

        segments.Add(new TrunkSegment($"segment{segments.Count + 1}", segments.Count == 0 ? stem : null, current));
        heads.Add(new ExitHead($"exit{heads.Count + 1}", [], channels, config.Classes));
        Segments = nn.ModuleList([.. segments]);
        Heads = nn.ModuleList([.. heads]);
        RegisterComponents();
        Initialize(this);
    }

    public DfbNetConfig Config { get; }

    public int ExitCount => Heads.Count;

    /// <summary>
    /// Scale of the gradient the side exits send into the trunk while training (see TrainOptions.BranchGradientScale);
    /// the forward values are unchanged, so inference and export do not depend on it.
    /// </summary>
    public double BranchGradientScale { get; set; } = 1;

    /// <summary>Logits of every exit, exit 1 first.</summary>
    public override Tensor[] forward(Tensor x)
    {
        var logits = new Tensor[ExitCount];
        var scaled = training && BranchGradientScale != 1;
        for (var s = 0; s < ExitCount; s++)
        {
            x = Segments[s].forward(x);
            logits[s] = Heads[s].forward(scaled && s < ExitCount - 1 ? ScaleGradient(x, BranchGradientScale) : x);
        }

        return logits;
    }

    /// <summary>x in the forward pass; gradient times <paramref name="scale"/> in the backward pass.</summary>
    private static Tensor ScaleGradient(Tensor x, double scale) => x.mul(scale).add(x.detach().mul(1 - scale));

    /// <summary>The main branch alone (the baseline): all segments, then the last exit only.</summary>
    public Tensor ForwardMain(Tensor x)
    {
        foreach (var segment in Segments)
        {
            x = segment.forward(x);
        }

        return Heads[ExitCount - 1].forward(x);
    }

    /// <summary>Stage s (zero-based) alone: what the exported ONNX stage computes.</summary>
    public (Tensor Logits, Tensor Feature) ForwardStage(int stage, Tensor input)
    {
        var feature = Segments[stage].forward(input);
        return (Heads[stage].forward(feature), feature);
    }

    /// <summary>Parameters of the main branch (every segment and the last exit), the baseline's trainable set.</summary>
    public IEnumerable<Parameter> MainParameters() =>
        Segments.SelectMany(s => s.parameters()).Concat(Heads[ExitCount - 1].parameters());

    /// <summary>Parameters of the side branches (exits 1..M-1).</summary>
    public IEnumerable<Parameter> BranchParameters() =>
        Heads.Take(ExitCount - 1).SelectMany(h => h.parameters());

    public static long Count(IEnumerable<Parameter> parameters) => parameters.Sum(p => p.numel());

    /// <summary>
    /// Copies the main branch (stem, every main block, the main exit; weights and batch-norm statistics) from a model
    /// whose main branch has the same shape, whatever its side branches: the segments are cut at other places, so the
    /// modules are paired by their order along the main branch, not by their names.
    /// </summary>
    public void CopyMainBranchFrom(DfbNetModel source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var from = source.MainModules();
        var to = MainModules();
        if (from.Count != to.Count)
        {
            throw new ArgumentException($"The source's main branch has {from.Count - 2} blocks; this one has {to.Count - 2}.", nameof(source));
        }

        using var noGrad = no_grad();
        for (var i = 0; i < to.Count; i++)
        {
            var state = from[i].state_dict();
            foreach (var (name, tensor) in to[i].state_dict())
            {
                if (!state.TryGetValue(name, out var value) || !value.shape.SequenceEqual(tensor.shape))
                {
                    throw new ArgumentException($"The source's main branch differs at {to[i].GetName()}.{name}.", nameof(source));
                }

                tensor.copy_(value);
            }
        }
    }

    /// <summary>The main branch's modules in order: stem, blocks, main exit.</summary>
    private List<nn.Module> MainModules() =>
        [Segments[0].Stem!, .. Segments.SelectMany(s => s.Blocks), Heads[ExitCount - 1]];

    /// <summary>He (Kaiming) normal initialisation for convolutions (fan-out, ReLU), as WRN and the paper's [16] do; BN to (1, 0); linear biases 0.</summary>
    public static void Initialize(nn.Module module)
    {
        using var noGrad = no_grad();
        foreach (var (_, m) in module.named_modules())
        {
            switch (m)
            {
                case Conv2d conv:
                    nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
                    break;
                case BatchNorm2d bn:
                    nn.init.ones_(bn.weight);
                    nn.init.zeros_(bn.bias);
                    break;
                case Linear linear:
                    nn.init.zeros_(linear.bias);
                    break;
            }
        }
    }

    private static ExitHead BuildBranchHead(int exit, BranchSpec branch, int inChannels, DfbNetConfig config)
    {
        var blocks = new List<WideBasicBlock>();
        var channels = inChannels;
        for (var g = branch.AfterGroup + 1; g < 4; g++)
        {
            var width = branch.Width(g);
            for (var b = 0; b < branch.Blocks; b++)
            {
                blocks.Add(new WideBasicBlock($"g{g}b{b}", channels, width, b == 0 ? 2 : 1, config.Dropout));
                channels = width;
            }
        }

        return new ExitHead($"exit{exit}", blocks, channels, config.Classes);
    }
}
