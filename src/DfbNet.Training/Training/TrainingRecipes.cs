using DfbNet.Training.Model;

namespace DfbNet.Training.Training;

/// <summary>The default training options of each preset; command-line options override single fields.</summary>
public static class TrainingRecipes
{
    /// <param name="preset">paper, edge or tiny.</param>
    /// <param name="classes">Classes of the data set.</param>
    /// <param name="inputSize">Square input side other than the preset's (its crop and scale range follow); null for the preset's.</param>
    /// <param name="branches">Side branches other than the preset's (the loss weights follow their count); null for the preset's.</param>
    public static TrainOptions For(string preset, int classes = 10, int? inputSize = null, IReadOnlyList<BranchSpec>? branches = null)
    {
        var model = DfbNetConfig.FromPreset(preset, classes);
        model = inputSize is { } size ? model.WithInputSize(size) : model;
        model = branches is null ? model : model with { Branches = branches };
        var weights = TrainOptions.DefaultLossWeights(classes, model.ExitCount);
        return preset switch
        {
            // Section 3 of the paper: batch 50, 0.1 dropped by 0.2 every 60 of 300 epochs; the whole net from 0.004
            // (0.025 on CIFAR-100, with dropout) for 180 (200) epochs.
            "paper" => new TrainOptions
            {
                Model = classes >= 100 ? model with { Dropout = 0.3 } : model,
                BaselineEpochs = 300,
                JointEpochs = classes >= 100 ? 200 : 180,
                BatchSize = 50,
                BaselineLearningRate = 0.1,
                JointLearningRate = classes >= 100 ? 0.025 : 0.004,
                WeightDecay = 1e-4,
                Schedule = LearningRateSchedule.Step,
                LossWeights = weights,
            },

            // About an hour on two CPU cores: short one-cycle phases, larger batches, stronger weight decay; the joint
            // phase's peak is a tenth of the baseline's because the branch weights (2.5 + 2.5) scale the shared trunk's gradients.
            // The joint phase first costs the main branch accuracy and needs about 20 epochs to win it back.
            "edge" => new TrainOptions
            {
                Model = model,
                BaselineEpochs = 24,
                JointEpochs = 22,
                BatchSize = 128,
                BaselineLearningRate = 0.2,
                JointLearningRate = 0.02,
                WeightDecay = 5e-4,
                Nesterov = true,
                Schedule = LearningRateSchedule.OneCycle,
                LossWeights = weights,

                // Few epochs leave the small side exits far less accurate than the main branch; learning its softened
                // predictions as well makes them confident where the main branch is right, so more images leave early.
                Distillation = 0.5,
                DistillationTemperature = 3,
            },

            "tiny" => new TrainOptions
            {
                Model = model,
                BaselineEpochs = 1,
                JointEpochs = 1,
                BatchSize = 32,
                BaselineLearningRate = 0.05,
                JointLearningRate = 0.02,
                WeightDecay = 5e-4,
                Schedule = LearningRateSchedule.Cosine,
                LossWeights = weights,
                ValidationCount = 100,
                LogEvery = 10,
            },

            _ => throw new ArgumentException($"Unknown preset '{preset}'; expected paper, edge or tiny.", nameof(preset)),
        };
    }
}
