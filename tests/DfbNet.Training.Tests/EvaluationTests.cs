using DfbNet.Core;
using DfbNet.Training.Data;
using DfbNet.Training.Evaluation;
using DfbNet.Training.Model;
using static TorchSharp.torch;

namespace DfbNet.Training.Tests;

public sealed class EvaluationTests
{
    private static (float[][] Logits, byte[] Labels) TinyLogits()
    {
        var data = TestData.Slice();
        random.manual_seed(21);
        using var model = new DfbNetModel(DfbNetConfig.Tiny());
        var (mean, std) = data.ChannelStatistics();
        var logits = TorchInference.ExitLogits(model, data, new InputRecipe(16, 16, 16, 20, mean, std), batchSize: 64);
        return (logits, data.Labels);
    }

    [Theory]
    [InlineData(0.15f, 0.2f, 0f)]
    [InlineData(0.12f, 0.13f, 0.2f)]
    [InlineData(1f, 1f, 0f)]
    public void Figures_EqualADirectComputationOfAlgorithmOne(float p1, float p2, float p3)
    {
        var (logits, labels) = TinyLogits();
        float[] thresholds = [p1, p2, p3];
        var result = new ExitEvaluation(logits, labels, 10).Evaluate(thresholds);

        // Direct: softmax per exit, leave at the first exit whose max probability is strictly above its threshold,
        // otherwise the argmax of the summed probabilities.
        var n = labels.Length;
        var answered = new int[4];
        var wrong = new int[4];
        var reached = new int[3];
        for (var i = 0; i < n; i++)
        {
            var sum = new double[10];
            int predicted = -1, slot = 3;
            for (var s = 0; s < 3 && predicted < 0; s++)
            {
                reached[s]++;
                var z = logits[s].AsSpan(i * 10, 10).ToArray();
                var max = z.Max();
                var e = z.Select(v => Math.Exp(v - max)).ToArray();
                var total = e.Sum();
                var y = e.Select(v => v / total).ToArray();
                var best = Array.IndexOf(y, y.Max());
                if (y[best] > thresholds[s])
                {
                    predicted = best;
                    slot = s;
                }

                for (var k = 0; k < 10; k++)
                {
                    sum[k] += y[k];
                }
            }

            if (predicted < 0)
            {
                predicted = Array.IndexOf(sum, sum.Max());
            }

            answered[slot]++;
            if (predicted != labels[i])
            {
                wrong[slot]++;
            }
        }

        Assert.Equal(wrong.Sum() / (double)n, result.Error, 12);
        for (var k = 0; k < 4; k++)
        {
            Assert.Equal(answered[k] / (double)n, result.ExitRatio[k], 12);
            if (answered[k] > 0)
            {
                Assert.Equal(wrong[k] / (double)answered[k], result.ErrorWithin[k], 12);
            }
            else
            {
                Assert.True(double.IsNaN(result.ErrorWithin[k]));
            }
        }

        Assert.Equal(reached.Select(r => r / (double)n), result.StageReach);
        Assert.Equal(1.0, result.ExitRatio.Sum(), 9);
    }

    [Fact]
    public void MainPreset_ReproducesTheMainBranchAlone()
    {
        var (logits, labels) = TinyLogits();
        var evaluation = new ExitEvaluation(logits, labels, 10);
        var result = evaluation.Evaluate([1f, 1f, 0f]);
        Assert.Equal(1 - evaluation.ExitAccuracy(2), result.Error, 12);
        Assert.Equal([0.0, 0.0, 1.0, 0.0], result.ExitRatio);
    }

    [Fact]
    public void Calibration_DefaultIsAtLeastAsAccurateAsTheMainBranch()
    {
        var (logits, labels) = TinyLogits();
        var evaluation = new ExitEvaluation(logits, labels, 10);
        double[] cost = [4, 3, 2];
        var result = ThresholdCalibrator.Calibrate(evaluation, cost, 6, fastTolerance: 0.02);
        var main = evaluation.ExitAccuracy(2);
        var balanced = result.Presets[ThresholdCalibrator.Balanced];
        var fast = result.Presets[ThresholdCalibrator.Fast];
        var accurate = result.Presets[ThresholdCalibrator.Accurate];
        Assert.True(1 - balanced.Result.Error >= main - 1e-12);
        Assert.True(1 - fast.Result.Error >= main - 0.02 - 1e-12);
        Assert.True(fast.Cost <= balanced.Cost);
        Assert.True(1 - accurate.Result.Error >= 1 - balanced.Result.Error);
        Assert.Equal(balanced.Cost, balanced.Result.ExpectedCost(cost), 9);
    }

    [Theory]
    [InlineData(0.01)]
    [InlineData(0.05)]
    [InlineData(0.5)]
    public void Calibration_BalancedMargin_DemandsThatMuchMoreThanTheMainBranch_OrTakesTheMostAccurateSet(double margin)
    {
        var (logits, labels) = TinyLogits();
        var evaluation = new ExitEvaluation(logits, labels, 10);
        double[] cost = [4, 3, 2];
        var plain = ThresholdCalibrator.Calibrate(evaluation, cost, 6);
        var result = ThresholdCalibrator.Calibrate(evaluation, cost, 6, balancedMargin: margin);
        var balanced = result.Presets[ThresholdCalibrator.Balanced];
        var accurate = result.Presets[ThresholdCalibrator.Accurate];
        var main = evaluation.ExitAccuracy(2);
        Assert.True(balanced.Cost >= plain.Presets[ThresholdCalibrator.Balanced].Cost);
        if (1 - accurate.Result.Error >= main + margin - 1e-12)
        {
            Assert.True(1 - balanced.Result.Error >= main + margin - 1e-12);
        }
        else
        {
            Assert.Equal(accurate.Result.Thresholds, balanced.Result.Thresholds);
        }
    }

    [Fact]
    public void Calibration_PrefersAConfidentCorrectFirstExit()
    {
        // Exit 1 is right and sure on 90 of 100 images and unsure on the rest, where only the main exit is right.
        var n = 100;
        var labels = Enumerable.Range(0, n).Select(i => (byte)(i % 10)).ToArray();
        var exit1 = new float[n * 10];
        var exit2 = new float[n * 10];
        var exit3 = new float[n * 10];
        for (var i = 0; i < n; i++)
        {
            var sure = i < 90;
            exit1[(i * 10) + (sure ? labels[i] : (labels[i] + 1) % 10)] = sure ? 12f : 0.5f;
            exit2[(i * 10) + ((labels[i] + 2) % 10)] = 1f;
            exit3[(i * 10) + labels[i]] = 6f;
        }

        var evaluation = new ExitEvaluation([exit1, exit2, exit3], labels, 10);
        var result = ThresholdCalibrator.Calibrate(evaluation, [1, 1, 1], 3);
        var balanced = result.Presets[ThresholdCalibrator.Balanced];
        Assert.Equal(0, balanced.Result.Error, 12);
        Assert.Equal(0.9, balanced.Result.ExitRatio[0], 12);
        Assert.Equal(1 + 0.1 + 0.1, balanced.Cost, 9);
    }

    /// <summary>
    /// 100 images, 3 exits, 10 classes, built so that the rules disagree: exit 1 is sure on images 0..59 (right on 0..49,
    /// wrong on 50..59) and unsure elsewhere, exit 2 is right on every image and sure on 60..89 only, exit 3 is fairly
    /// sure and wrong on 0..29 and 90..99, right elsewhere.
    /// </summary>
    private static ExitEvaluation RefineCase()
    {
        const int n = 100;
        var labels = Enumerable.Range(0, n).Select(i => (byte)(i % 10)).ToArray();
        float[] exit1 = new float[n * 10], exit2 = new float[n * 10], exit3 = new float[n * 10];
        static void Put(float[] logits, int i, int cls, float z) => logits[(i * 10) + cls] = z;
        for (var i = 0; i < n; i++)
        {
            int y = labels[i], other = (y + 1) % 10;
            Put(exit1, i, i < 50 || i >= 90 ? y : other, i < 60 ? 8f : 1f);
            Put(exit2, i, y, i is >= 60 and < 90 ? 8f : 1.5f);
            Put(exit3, i, i < 30 || i >= 90 ? other : y, 3f);
        }

        return new ExitEvaluation([exit1, exit2, exit3], labels, 10);
    }

    [Fact]
    public void Modes_ScoreFirstExitRefineFullAndEachEventKind()
    {
        var evaluation = RefineCase();
        float[] thresholds = [0.9f, 0.9f, 0f];
        var modes = evaluation.EvaluateModes(thresholds);
        Assert.Equal(1 - evaluation.Evaluate(thresholds).Error, modes.FirstExit, 12);
        Assert.Equal(1.0, modes.Answered, 12);
        Assert.Equal(0.8, modes.EarlyExit, 12);
        Assert.True(double.IsNaN(modes.Fused));

        // Exit 2's own answer on the 60 images exit 1 answered: all right; exit 3's on the 90 answered before it: 60 of 90.
        Assert.Equal(1.0, modes.Refinement[1], 12);
        Assert.Equal(60 / 90.0, modes.Refinement[2], 12);
        Assert.Equal(modes.Refine[RefineRule.Deepest], 1 - evaluation.Evaluate([1f, 1f, 0f]).Error, 12);
    }

    [Fact]
    public void RefineRule_IsChosenSoThatRefineIsAtLeastAsAccurateAsFirstExitAtEveryPreset()
    {
        var evaluation = RefineCase();
        float[][] presets = [[0.9f, 0.9f, 0f], [0.99f, 0.9f, 0f], [1f, 1f, 0f]];
        var (rule, worst) = ThresholdCalibrator.ChooseRefineRule(evaluation, presets);
        foreach (var preset in presets)
        {
            var modes = evaluation.EvaluateModes(preset);
            Assert.True(modes.Refine[rule] >= modes.FirstExit - 1e-12, $"{RefineRules.Name(rule)} at {string.Join(",", preset)}: {modes.Refine[rule]} < {modes.FirstExit}");
        }

        // The chosen rule is the best at its worst preset, and a rule that loses somewhere was not chosen.
        Assert.Equal(worst.Values.Max(), worst[rule], 12);
        Assert.True(worst[rule] >= 0);
        Assert.Contains(worst, p => p.Value < 0);
    }

    [Fact]
    public void Calibration_WithABaseline_HoldsTheDefaultToTheBaselinesAccuracy()
    {
        var (logits, labels) = TinyLogits();
        var evaluation = new ExitEvaluation(logits, labels, 10);
        double[] cost = [4, 3, 2];
        var main = evaluation.ExitAccuracy(2);
        var plain = ThresholdCalibrator.Calibrate(evaluation, cost, 6);
        var stricter = ThresholdCalibrator.Calibrate(evaluation, cost, 6, referenceAccuracy: main + 0.05);
        Assert.Equal(main, plain.ReferenceAccuracy, 12);
        Assert.Equal(main + 0.05, stricter.ReferenceAccuracy, 12);
        var balanced = stricter.Presets[ThresholdCalibrator.Balanced].Result;
        var accurate = stricter.Presets[ThresholdCalibrator.Accurate].Result;
        Assert.True(1 - balanced.Error >= main + 0.05 - 1e-12 || balanced.Thresholds.SequenceEqual(accurate.Thresholds));
        Assert.True(stricter.Presets[ThresholdCalibrator.Balanced].Cost >= plain.Presets[ThresholdCalibrator.Balanced].Cost);
    }
}
