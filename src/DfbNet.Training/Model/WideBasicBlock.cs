using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DfbNet.Training.Model;

/// <summary>
/// Pre-activation wide basic block (Zagoruyko and Komodakis): BN-ReLU-conv3x3-BN-ReLU-(dropout)-conv3x3 plus a
/// shortcut that is the identity, or a 1x1 projection of the pre-activated input where width or stride changes.
/// </summary>
internal sealed class WideBasicBlock : nn.Module<Tensor, Tensor>
{
    public readonly BatchNorm2d Bn1;
    public readonly Conv2d Conv1;
    public readonly BatchNorm2d Bn2;
    public readonly Conv2d Conv2;
    public readonly Conv2d? Projection;
    private readonly Dropout? _dropout;

    public WideBasicBlock(string name, int inChannels, int outChannels, int stride, double dropout)
        : base(name)
    {
        InChannels = inChannels;
        OutChannels = outChannels;
        Stride = stride;
        Bn1 = nn.BatchNorm2d(inChannels);
        Conv1 = nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false);
        Bn2 = nn.BatchNorm2d(outChannels);
        Conv2 = nn.Conv2d(outChannels, outChannels, 3, stride: 1, padding: 1, bias: false);
        if (inChannels != outChannels || stride != 1)
        {
            Projection = nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false);
        }

        if (dropout > 0)
        {
            _dropout = nn.Dropout(dropout);
        }

        RegisterComponents();
    }

    public int InChannels { get; }

    public int OutChannels { get; }

    public int Stride { get; }

    public override Tensor forward(Tensor x)
    {
        var o1 = nn.functional.relu(Bn1.forward(x));
        var y = nn.functional.relu(Bn2.forward(Conv1.forward(o1)));
        if (_dropout is not null)
        {
            y = _dropout.forward(y);
        }

        y = Conv2.forward(y);

        // As in the reference WRN code, the projection sees the pre-activated input, so a projecting block's BN1
        // acts on both paths.
        var shortcut = Projection is null ? x : Projection.forward(o1);
        return y.add_(shortcut);
    }
}

/// <summary>Exit: optional blocks of the branch's own groups, then BN, ReLU, global average pooling and a linear classifier.</summary>
internal sealed class ExitHead : nn.Module<Tensor, Tensor>
{
    public readonly ModuleList<WideBasicBlock> Blocks;
    public readonly BatchNorm2d Bn;
    public readonly Linear Classifier;

    public ExitHead(string name, IEnumerable<WideBasicBlock> blocks, int channels, int classes)
        : base(name)
    {
        Blocks = nn.ModuleList([.. blocks]);
        Bn = nn.BatchNorm2d(channels);
        Classifier = nn.Linear(channels, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        foreach (var block in Blocks)
        {
            x = block.forward(x);
        }

        var pooled = nn.functional.relu(Bn.forward(x)).mean([2, 3]);
        return Classifier.forward(pooled);
    }
}

/// <summary>A contiguous piece of the main branch between two branch points; the first one starts with Conv1.</summary>
internal sealed class TrunkSegment : nn.Module<Tensor, Tensor>
{
    public readonly Conv2d? Stem;
    public readonly ModuleList<WideBasicBlock> Blocks;

    public TrunkSegment(string name, Conv2d? stem, IEnumerable<WideBasicBlock> blocks)
        : base(name)
    {
        Stem = stem;
        Blocks = nn.ModuleList([.. blocks]);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        if (Stem is not null)
        {
            x = Stem.forward(x);
        }

        foreach (var block in Blocks)
        {
            x = block.forward(x);
        }

        return x;
    }
}
