using DfbNet.Training.Data;
using DfbNet.Training.Model;
using DfbNet.Training.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DfbNet.Training.Tests;

public sealed class TrainerTests
{
    private static TrainOptions TinyOptions(int baselineEpochs = 2, int jointEpochs = 1) => TrainingRecipes.For("tiny") with
    {
        BaselineEpochs = baselineEpochs,
        JointEpochs = jointEpochs,
        BatchSize = 25,
        ValidationCount = 50,
        Threads = 1,
        LogEvery = 1000,
    };

    private static TrainingData Data()
    {
        var slice = TestData.Slice();
        var (train, validation) = slice.SplitValidation(50, seed: 1);
        return new TrainingData(train, validation, validation);
    }

    [Fact]
    public void JointLoss_DropsOverAFewStepsOnAFixedBatch()
    {
        var data = Data();
        var options = TinyOptions();
        var recipe = new InputRecipe(16, 16, 16, 20, [0.5f, 0.5f, 0.5f], [0.25f, 0.25f, 0.25f]);
        using var scope = NewDisposeScope();
        random.manual_seed(5);
        using var model = new DfbNetModel(options.Model);
        model.train();
        var (x, y) = BatchBuilder.Train(data.Train, Enumerable.Range(0, 32).ToArray(), recipe, new Random(1));
        using var optimizer = optim.SGD(model.parameters(), 0.02, momentum: 0.9);
        var losses = new List<float>();
        for (var step = 0; step < 12; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = Trainer.WeightedLoss(model.forward(x), y, options.LossWeights);
            loss.backward();
            optimizer.step();
            losses.Add(loss.item<float>());
        }

        Assert.True(losses[^1] < 0.7f * losses[0], $"losses: {string.Join(", ", losses)}");
    }

    [Fact]
    public void Resume_ContinuesExactlyAsAnUninterruptedRun()
    {
        var data = Data();
        var straightDir = TestData.TempFolder("straight");
        var straight = new Trainer(straightDir, _ => { }).Run(TinyOptions(), data, resume: false);

        // Interrupted after the first baseline epoch, and again after the baseline phase's end, then resumed.
        var resumedDir = TestData.TempFolder("resumed");
        var first = new Trainer(resumedDir, _ => { }).Run(TinyOptions(), data, resume: false, stopAfterEpochs: 1);
        Assert.Equal(TrainingPhase.Baseline, first.Phase);
        Assert.Equal(1, first.Epoch);
        new Trainer(resumedDir, _ => { }).Run(TinyOptions(), data, resume: true, stopAfterEpochs: 1);
        var resumed = new Trainer(resumedDir, _ => { }).Run(TinyOptions(), data, resume: true);

        Assert.Equal(TrainingPhase.Done, straight.Phase);
        Assert.Equal(TrainingPhase.Done, resumed.Phase);
        Assert.Equal(straight.History.Select(h => h.Loss), resumed.History.Select(h => h.Loss));
        Assert.Equal(straight.TestAccuracy, resumed.TestAccuracy);

        using var a = Checkpoint.Load(straightDir).LoadModel(straightDir);
        using var b = Checkpoint.Load(resumedDir).LoadModel(resumedDir);
        var pa = a.state_dict();
        var pb = b.state_dict();
        Assert.Equal(pa.Keys, pb.Keys);
        foreach (var key in pa.Keys)
        {
            Assert.True(pa[key].eq(pb[key]).all().item<bool>(), $"{key} differs after resume");
        }
    }

    [Fact]
    public void FinishedRun_ResumedWithMoreJointEpochs_ContinuesItsJointPhase()
    {
        var data = Data();
        var dir = TestData.TempFolder("extend");
        var first = new Trainer(dir, _ => { }).Run(TinyOptions(baselineEpochs: 1, jointEpochs: 1), data, resume: false);
        Assert.Equal(TrainingPhase.Done, first.Phase);
        var extended = new Trainer(dir, _ => { }).Run(TinyOptions(), data, resume: true, resumeEpochs: (null, 3));
        Assert.Equal(TrainingPhase.Done, extended.Phase);
        Assert.Equal(3, extended.Options.JointEpochs);
        Assert.Equal(1, extended.Options.BaselineEpochs);
        Assert.Equal([TrainingPhase.Baseline, TrainingPhase.Joint, TrainingPhase.Joint, TrainingPhase.Joint], extended.History.Select(h => h.Phase));
        Assert.Contains("resumed after Joint epoch 1", extended.Command, StringComparison.Ordinal);
    }

    [Fact]
    public void LearningRates_FollowThePaperStepsAndTheShortRunSchedules()
    {
        Assert.Equal(0.1, LearningRates.At(LearningRateSchedule.Step, 0.1, 59, 0.19, 300), 12);
        Assert.Equal(0.02, LearningRates.At(LearningRateSchedule.Step, 0.1, 60, 0.2, 300), 12);
        Assert.Equal(0.1 * 0.2 * 0.2 * 0.2 * 0.2, LearningRates.At(LearningRateSchedule.Step, 0.1, 299, 0.99, 300), 12);
        Assert.Equal(0.01, LearningRates.At(LearningRateSchedule.OneCycle, 0.1, 0, 0, 10), 12);
        Assert.Equal(0.1, LearningRates.At(LearningRateSchedule.OneCycle, 0.1, 1, 0.15, 10), 12);
        Assert.Equal(0.05, LearningRates.At(LearningRateSchedule.Cosine, 0.1, 5, 0.5, 10), 12);
    }
}
