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
