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
    public void DistilledLoss_MixesEachSideExitsCrossEntropyWithTheKlToTheMainExit_AndLeavesTheMainExitUntouched()
    {
        TestData.Slice();
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        var side1 = randn(4, 10, requires_grad: true);
        var side2 = randn(4, 10, requires_grad: true);
        var main = randn(4, 10, requires_grad: true);
        var y = tensor(new long[] { 1, 7, 3, 0 });
        float[] weights = [2.5f, 2.5f, 0.25f];
        const double lambda = 0.5, t = 3;

        // Paper's loss when lambda = 0.
        var plain = Trainer.WeightedLoss([side1, side2, main], y, weights).item<float>();
        var expectedPlain = (2.5 * Ce(side1, y)) + (2.5 * Ce(side2, y)) + (0.25 * Ce(main, y));
        Assert.Equal(expectedPlain, plain, 4);

        // Direct computation: KL(p || q) = sum p (log p - log q) with p, q the softmax at temperature t, times t^2.
        double Kl(Tensor student)
        {
            var p = nn.functional.softmax(main.detach() / t, 1);
            var q = nn.functional.softmax(student.detach() / t, 1);
            return (p * (p.log() - q.log())).sum(1).mean().item<float>() * t * t;
        }

        var loss = Trainer.WeightedLoss([side1, side2, main], y, weights, lambda, t);
        var expected = (2.5 * (((1 - lambda) * Ce(side1, y)) + (lambda * Kl(side1))))
            + (2.5 * (((1 - lambda) * Ce(side2, y)) + (lambda * Kl(side2))))
            + (0.25 * Ce(main, y));
        Assert.Equal(expected, loss.item<float>(), 4);

        // The main exit (the teacher) gets only its own cross-entropy gradient.
        loss.backward();
        using var mainOnly = main.detach().requires_grad_(true);
        nn.functional.cross_entropy(mainOnly, y).mul(0.25).backward();
        Assert.True(main.grad!.allclose(mainOnly.grad!, rtol: 0, atol: 1e-6));

        Assert.Throws<ArgumentException>(() => Trainer.WeightedLoss([side1, side2, main], y, weights, 1.5, t));
    }

    private static double Ce(Tensor logits, Tensor y) => nn.functional.cross_entropy(logits.detach(), y).item<float>();

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
    public void JointPhase_FromAnotherRunsBaseline_TakesItsMainBranchExactly_WithOtherSideBranches()
    {
        var data = Data();
        var baselineDir = TestData.TempFolder("baseline-only");
        var baseline = new Trainer(baselineDir, _ => { }).Run(TinyOptions(baselineEpochs: 1, jointEpochs: 0), data, resume: false);
        Assert.Equal(TrainingPhase.Done, baseline.Phase);

        // Branch 2 leaves later (after Conv3_x rather than Conv2_x): the trunk is cut elsewhere, the main branch is the same.
        var other = TinyOptions(jointEpochs: 0) with { Model = DfbNetConfig.Tiny() with { Branches = [new BranchSpec(0, 1, 1, 1), new BranchSpec(2, 1, 1, 1)] } };
        var dir = TestData.TempFolder("from-baseline");
        var started = new Trainer(dir, _ => { }).Run(other, data, resume: false, fromBaseline: baselineDir);
        Assert.Equal(TrainingPhase.Done, started.Phase);
        Assert.Equal(1, started.Options.BaselineEpochs);
        Assert.Equal(baseline.ElapsedSeconds, started.ElapsedSeconds);
        Assert.Equal(baseline.BaselineTestAccuracy, started.BaselineTestAccuracy);
        Assert.Equal([TrainingPhase.Baseline], started.History.Select(h => h.Phase));
        Assert.Contains("joint phase from that baseline", started.Command, StringComparison.Ordinal);

        using var scope = NewDisposeScope();
        using var source = Checkpoint.Load(baselineDir).LoadModel(baselineDir);
        using var copy = started.LoadModel(dir);
        random.manual_seed(4);
        var x = randn(3, 3, 16, 16);
        Assert.True(copy.ForwardMain(x).allclose(source.ForwardMain(x), rtol: 0, atol: 0));
        Assert.Equal([1, 2, 1], copy.Segments.Select(s => s.Blocks.Count));

        // And its joint phase trains from there.
        var joint = new Trainer(dir, _ => { }).Run(other, data, resume: true, resumeEpochs: (null, 1));
        Assert.Equal(TrainingPhase.Done, joint.Phase);
        Assert.Equal([TrainingPhase.Baseline, TrainingPhase.Joint], joint.History.Select(h => h.Phase));
    }

    [Fact]
    public void Run_KeepsTheBaselineAsItWasBeforeTheJointPhase_AndARunFromABaselineKeepsThatOne()
    {
        var data = Data();
        var baselineDir = TestData.TempFolder("kept-baseline-only");
        new Trainer(baselineDir, _ => { }).Run(TinyOptions(baselineEpochs: 1, jointEpochs: 0), data, resume: false);
        var dir = TestData.TempFolder("kept-baseline");
        var run = new Trainer(dir, _ => { }).Run(TinyOptions(baselineEpochs: 1, jointEpochs: 1), data, resume: false);

        using var scope = NewDisposeScope();
        random.manual_seed(5);
        var x = randn(3, 3, 16, 16);
        using var alone = Checkpoint.Load(baselineDir).LoadBaseline(baselineDir)!;
        using var kept = run.LoadBaseline(dir)!;
        using var joint = run.LoadModel(dir);

        // Same seed, same baseline epoch: the kept baseline is the baseline-only run's, and joint training moved the trunk.
        Assert.True(kept.ForwardMain(x).allclose(alone.ForwardMain(x), rtol: 0, atol: 0));
        Assert.False(joint.ForwardMain(x).allclose(kept.ForwardMain(x), rtol: 0, atol: 1e-6));
        Assert.NotNull(run.BaselineValidationAccuracy);

        var fromDir = TestData.TempFolder("kept-from-baseline");
        var from = new Trainer(fromDir, _ => { }).Run(TinyOptions(jointEpochs: 1), data, resume: false, fromBaseline: baselineDir);
        using var fromKept = from.LoadBaseline(fromDir)!;
        Assert.True(fromKept.ForwardMain(x).allclose(alone.ForwardMain(x), rtol: 0, atol: 0));
    }

    [Fact]
    public void FinishedRun_ResumedWithJpegRoundTrips_TrainsItsExtraEpochsWithThem_AndKeepsTheSetting()
    {
        var data = Data();
        var dir = TestData.TempFolder("resume-jpeg");
        new Trainer(dir, _ => { }).Run(TinyOptions(baselineEpochs: 1, jointEpochs: 1), data, resume: false);
        var lines = new List<string>();
        var resumed = new Trainer(dir, lines.Add).Run(TinyOptions(), data, resume: true, resumeEpochs: (null, 2), resumeJpeg: new JpegAugmentation(0.5));
        Assert.Equal(TrainingPhase.Done, resumed.Phase);
        Assert.Equal(new JpegAugmentation(0.5), resumed.Options.Jpeg);
        Assert.Equal(new JpegAugmentation(0.5), Checkpoint.Load(dir).Options.Jpeg);
        Assert.Contains(lines, l => l.StartsWith("JPEG round trips from joint epoch 2 on", StringComparison.Ordinal));
        Assert.Equal(2, resumed.History.Count(h => h.Phase == TrainingPhase.Joint));
    }

    [Fact]
    public void BranchGradientScale_LeavesForwardValuesAndScalesOnlyTheTrunkGradientOfTheSideExits()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(6);
        using var model = new DfbNetModel(DfbNetConfig.Tiny());
        model.train();
        var x = randn(4, 3, 16, 16);
        var y = tensor(new long[] { 0, 1, 2, 3 });
        var stem = model.Segments[0].Stem!.weight!;

        // The side exits' loss alone (the main exit weighted 0): its gradient on the stem is scaled, on the side heads not.
        (Tensor Stem, Tensor Head, float[] Logits) Gradients(double scale)
        {
            model.BranchGradientScale = scale;
            model.zero_grad();
            var logits = model.forward(x);
            Trainer.WeightedLoss(logits, y, [1f, 1f, 0f]).backward();
            return (stem.grad!.clone(), model.Heads[0].Classifier.weight!.grad!.clone(), logits[0].detach().data<float>().ToArray());
        }

        var full = Gradients(1);
        var quarter = Gradients(0.25);
        Assert.Equal(full.Logits, quarter.Logits);
        Assert.True(quarter.Head.allclose(full.Head, rtol: 1e-5, atol: 1e-7));
        Assert.True(quarter.Stem.allclose(full.Stem.mul(0.25), rtol: 1e-4, atol: 1e-7));
    }

    [Fact]
    public void JointPhase_FromBaseline_RefusesAnotherMainBranchSplitOrARunPastItsBaseline()
    {
        var data = Data();
        var baselineDir = TestData.TempFolder("baseline-refusals");
        new Trainer(baselineDir, _ => { }).Run(TinyOptions(baselineEpochs: 1, jointEpochs: 0), data, resume: false);

        var wider = TinyOptions() with { Model = DfbNetConfig.Tiny() with { Widen = 2 } };
        var error = Assert.Throws<ArgumentException>(() => new Trainer(TestData.TempFolder("wider"), _ => { }).Run(wider, data, resume: false, fromBaseline: baselineDir));
        Assert.Contains("another main branch", error.Message, StringComparison.Ordinal);

        error = Assert.Throws<ArgumentException>(() => new Trainer(TestData.TempFolder("seed"), _ => { }).Run(TinyOptions() with { Seed = 2 }, data, resume: false, fromBaseline: baselineDir));
        Assert.Contains("--seed", error.Message, StringComparison.Ordinal);

        var jointDir = TestData.TempFolder("joint-done");
        new Trainer(jointDir, _ => { }).Run(TinyOptions(baselineEpochs: 1, jointEpochs: 1), data, resume: false);
        error = Assert.Throws<ArgumentException>(() => new Trainer(TestData.TempFolder("late"), _ => { }).Run(TinyOptions(), data, resume: false, fromBaseline: jointDir));
        Assert.Contains("--epochs 0", error.Message, StringComparison.Ordinal);
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
