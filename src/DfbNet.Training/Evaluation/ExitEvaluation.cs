using DfbNet.Core;

namespace DfbNet.Training.Evaluation;

/// <summary>Table 2 figures of one threshold set, except time: exit ratios and errors of exits 1..M and fusion.</summary>
/// <param name="Thresholds">p_1..p_M.</param>
/// <param name="Error">Overall top-1 error.</param>
/// <param name="ExitRatio">Fraction of images answered by exit 1..M (index 0..M-1) and by fusion (index M).</param>
/// <param name="ErrorWithin">Error among the images each exit (or fusion) answered; NaN where it answered none.</param>
/// <param name="StageReach">Fraction of images that ran stage s (stage 1 is always 1).</param>
public sealed record ExitResult(float[] Thresholds, double Error, double[] ExitRatio, double[] ErrorWithin, double[] StageReach)
{
    /// <summary>Expected cost per image when stage s costs <paramref name="stageCost"/>[s] (FLOPs or milliseconds).</summary>
    public double ExpectedCost(IReadOnlyList<double> stageCost) => StageReach.Select((r, s) => r * stageCost[s]).Sum();
}

/// <summary>Accuracy of each mode's final answer and of each kind of event, for one threshold set.</summary>
/// <param name="FirstExit">First-exit mode (Algorithm 1).</param>
/// <param name="Refine">Refine mode without a budget (every exit runs), per refine rule.</param>
/// <param name="Full">Full mode: the fusion of all M exits for every image.</param>
/// <param name="EarlyExit">The answering exit's own prediction, over the images some exit answered (NaN if none).</param>
/// <param name="Refinement">Exit s's own prediction over the images answered before exit s (index s; NaN where none).</param>
/// <param name="Fused">The fusion of all exits over the images no exit answered (NaN if none).</param>
/// <param name="Answered">Fraction of images some exit answered.</param>
public sealed record ModeAccuracy(double FirstExit, IReadOnlyDictionary<RefineRule, double> Refine, double Full, double EarlyExit, double[] Refinement, double Fused, double Answered);

/// <summary>
/// Algorithm 1 over precomputed exit outputs, through <see cref="ExitPolicy.Decide"/>: the same decision the server
/// makes per frame, applied to a whole data set at once.
/// </summary>
public sealed class ExitEvaluation
{
    private readonly float[][][] _probabilities;
    private readonly byte[] _labels;

    /// <param name="exitLogits">Per exit, N x classes logits (row-major).</param>
    /// <param name="labels">N labels.</param>
    /// <param name="classes">K.</param>
    public ExitEvaluation(IReadOnlyList<float[]> exitLogits, byte[] labels, int classes)
    {
        ArgumentNullException.ThrowIfNull(exitLogits);
        ArgumentNullException.ThrowIfNull(labels);
        _labels = labels;
        Classes = classes;
        ExitCount = exitLogits.Count;
        _probabilities = new float[labels.Length][][];
        for (var i = 0; i < labels.Length; i++)
        {
            var perExit = new float[ExitCount][];
            for (var s = 0; s < ExitCount; s++)
            {
                perExit[s] = new float[classes];
                ExitPolicy.Softmax(exitLogits[s].AsSpan(i * classes, classes), perExit[s]);
            }

            _probabilities[i] = perExit;
        }
    }

    public int ExitCount { get; }

    public int Classes { get; }

    public int Count => _labels.Length;

    /// <summary>Top-1 accuracy of exit s alone (zero-based).</summary>
    public double ExitAccuracy(int exit)
    {
        var correct = 0;
        for (var i = 0; i < Count; i++)
        {
            if (ExitPolicy.ArgMax(_probabilities[i][exit]) == _labels[i])
            {
                correct++;
            }
        }

        return correct / (double)Count;
    }

    /// <summary>Top-1 accuracy of one network's logits (N x classes, row-major), such as the baseline's.</summary>
    public static double Accuracy(float[] logits, byte[] labels, int classes)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        var correct = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            if (ExitPolicy.ArgMax(logits.AsSpan(i * classes, classes)) == labels[i])
            {
                correct++;
            }
        }

        return correct / (double)labels.Length;
    }

    /// <summary>What each mode answers, and how accurate each kind of event is, at <paramref name="thresholds"/>.</summary>
    public ModeAccuracy EvaluateModes(IReadOnlyList<float> thresholds)
    {
        var policy = new ExitPolicy(thresholds);
        var m = ExitCount;
        var rules = RefineRules.All;
        var refineCorrect = new int[rules.Count];
        int firstCorrect = 0, fullCorrect = 0, earlyCorrect = 0, answered = 0, fusedCorrect = 0;
        var refinementCorrect = new int[m];
        var refinementCount = new int[m];
        var combined = new float[Classes];
        for (var i = 0; i < Count; i++)
        {
            var probabilities = _probabilities[i];
            var label = _labels[i];
            var (predicted, exit) = policy.Decide(probabilities);
            firstCorrect += predicted == label ? 1 : 0;
            RefineRules.Combine(RefineRule.Fusion, probabilities, 0, combined);
            var fused = ExitPolicy.ArgMax(combined) == label;
            fullCorrect += fused ? 1 : 0;
            if (exit == 0)
            {
                fusedCorrect += fused ? 1 : 0;
                for (var r = 0; r < rules.Count; r++)
                {
                    refineCorrect[r] += fused ? 1 : 0;
                }

                continue;
            }

            answered++;
            earlyCorrect += predicted == label ? 1 : 0;
            for (var s = exit; s < m; s++)
            {
                refinementCount[s]++;
                refinementCorrect[s] += ExitPolicy.ArgMax(probabilities[s]) == label ? 1 : 0;
            }

            for (var r = 0; r < rules.Count; r++)
            {
                RefineRules.Combine(rules[r], probabilities, exit - 1, combined);
                refineCorrect[r] += ExitPolicy.ArgMax(combined) == label ? 1 : 0;
            }
        }

        double Share(int part, int whole) => whole == 0 ? double.NaN : part / (double)whole;
        return new ModeAccuracy(
            Share(firstCorrect, Count),
            rules.Select((r, k) => (r, Share(refineCorrect[k], Count))).ToDictionary(p => p.r, p => p.Item2),
            Share(fullCorrect, Count),
            Share(earlyCorrect, answered),
            [.. refinementCorrect.Select((c, s) => Share(c, refinementCount[s]))],
            Share(fusedCorrect, Count - answered),
            Share(answered, Count));
    }

    public ExitResult Evaluate(IReadOnlyList<float> thresholds)
    {
        var policy = new ExitPolicy(thresholds);
        if (policy.ExitCount != ExitCount)
        {
            throw new ArgumentException($"{policy.ExitCount} thresholds for {ExitCount} exits.", nameof(thresholds));
        }

        var m = ExitCount;
        var answered = new int[m + 1];
        var wrong = new int[m + 1];
        var reached = new int[m];
        var errors = 0;
        for (var i = 0; i < Count; i++)
        {
            var (predicted, exit) = policy.Decide(_probabilities[i]);
            var slot = exit == 0 ? m : exit - 1;
            answered[slot]++;

            // Fusion (exit 0) ran every stage; exit s ran stages 1..s.
            var stagesRun = exit == 0 ? m : exit;
            for (var s = 0; s < stagesRun; s++)
            {
                reached[s]++;
            }

            if (predicted != _labels[i])
            {
                wrong[slot]++;
                errors++;
            }
        }

        return new ExitResult(
            [.. thresholds],
            errors / (double)Count,
            [.. answered.Select(a => a / (double)Count)],
            [.. answered.Select((a, k) => a == 0 ? double.NaN : wrong[k] / (double)a)],
            [.. reached.Select(r => r / (double)Count)]);
    }
}
