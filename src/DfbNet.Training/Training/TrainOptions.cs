using DfbNet.Training.Data;
using DfbNet.Core.Manifest;
using DfbNet.Training.Model;

namespace DfbNet.Training.Training;

public enum LearningRateSchedule
{
    /// <summary>The paper's steps: multiply by 0.2 after every fifth of the phase (every 60 of 300 epochs).</summary>
    Step,

    /// <summary>Cosine from the peak to zero.</summary>
    Cosine,

    /// <summary>Linear warm-up over the first 15% from a tenth of the peak, then cosine to zero: for short runs.</summary>
    OneCycle,
}

/// <summary>Everything that shapes a training run; stored in the checkpoint so that a resume continues the same run.</summary>
public sealed record TrainOptions
{
    public required DfbNetConfig Model { get; init; }

    /// <summary>Epochs of the baseline (main branch alone), trained from scratch.</summary>
    public int BaselineEpochs { get; init; } = 300;

    /// <summary>Epochs of the whole DFB-Net (weighted joint loss), started from the baseline's weights.</summary>
    public int JointEpochs { get; init; } = 180;

    public int BatchSize { get; init; } = 50;

    /// <summary>Peak learning rate of the baseline phase (the paper: 0.1).</summary>
    public double BaselineLearningRate { get; init; } = 0.1;

    /// <summary>Peak learning rate of the joint phase (the paper: 0.004 on CIFAR-10, 0.025 on CIFAR-100).</summary>
    public double JointLearningRate { get; init; } = 0.004;

    public double Momentum { get; init; } = 0.9;

    public double WeightDecay { get; init; } = 1e-4;

    public bool Nesterov { get; init; }

    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Step;

    /// <summary>Loss weights alpha_1..alpha_M (the paper: 2.5, 2.5, 0.25 on CIFAR-10; 3.75, 2.5, 0.25 on CIFAR-100).</summary>
    public required IReadOnlyList<float> LossWeights { get; init; }

    /// <summary>
    /// Share of each side exit's loss given to distillation from the main exit (0, the paper's loss, to 1): the exit
    /// also learns the main branch's softened prediction, so that it is confident where the main branch is right.
    /// </summary>
    public double Distillation { get; init; }

    /// <summary>Softmax temperature of the distillation term (its KL divergence is scaled by T^2).</summary>
    public double DistillationTemperature { get; init; } = 3;

    /// <summary>
    /// Scale of the gradient that each side exit's loss sends back into the shared trunk (1, the paper's joint loss, to
    /// 0, branches trained on a trunk only the main exit shapes). The side heads themselves learn at full weight; below 1
    /// the trunk is pulled less towards features a small head can classify directly, which costs the main exit accuracy.
    /// </summary>
    public double BranchGradientScale { get; init; } = 1;

    /// <summary>JPEG round trips of training images (a share of them, at random qualities), so that the network learns
    /// the blocks and ringing of camera frames; null for none.</summary>
    public JpegAugmentation? Jpeg { get; init; }

    public int Seed { get; init; } = 1;

    /// <summary>CIFAR-10: training images held out (seeded) for validation and threshold calibration.</summary>
    public int ValidationCount { get; init; } = 5000;

    /// <summary>An image folder without val/: the share of every class held out (seeded) for validation and calibration.</summary>
    public double ValidationShare { get; init; } = DataSplit.DefaultShare;

    /// <summary>An image folder without test/: the share of every class held out (seeded) for testing.</summary>
    public double TestShare { get; init; } = DataSplit.DefaultShare;

    /// <summary>Intra-op threads of libtorch (0 leaves its default).</summary>
    public int Threads { get; init; }

    /// <summary>A progress line every this many batches.</summary>
    public int LogEvery { get; init; } = 50;

    /// <summary>How this run splits its data (recorded in the exported manifest, so that eval and calibrate split alike).</summary>
    public DataSplit Split() => new() { Seed = Seed, ValidationCount = ValidationCount, ValidationShare = ValidationShare, TestShare = TestShare };

    /// <summary>Default loss weights of the paper for a data set with <paramref name="classes"/> classes and M exits.</summary>
    public static IReadOnlyList<float> DefaultLossWeights(int classes, int exits)
    {
        float[] paper = classes >= 100 ? [3.75f, 2.5f, 0.25f] : [2.5f, 2.5f, 0.25f];
        if (exits == 3)
        {
            return paper;
        }

        // Other exit counts: the first side branch's weight for every side branch, the main branch's last.
        return [.. Enumerable.Repeat(paper[0], exits - 1), paper[2]];
    }
}
