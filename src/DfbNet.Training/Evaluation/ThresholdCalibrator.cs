using DfbNet.Core;

namespace DfbNet.Training.Evaluation;

/// <summary>The presets a calibration chose, with their validation figures.</summary>
/// <param name="MainAccuracy">Validation accuracy of the main exit.</param>
/// <param name="ReferenceAccuracy">The accuracy presets were held to: the baseline trained alone's where the model has one, else the main exit's.</param>
/// <param name="MainCost">Cost of the reference network.</param>
public sealed record CalibrationResult(
    double MainAccuracy,
    double ReferenceAccuracy,
    double MainCost,
    IReadOnlyDictionary<string, (ExitResult Result, double Cost)> Presets,
    int Candidates);

/// <summary>
/// Sweeps exit thresholds on the validation split and picks three presets by expected cost (stage FLOPs or measured
/// stage times weighted by how many images reach each stage):
/// <list type="bullet">
/// <item><c>accurate</c>: the most accurate set (the cheapest among equals);</item>
/// <item><c>balanced</c>, the default: the cheapest set at least as accurate as the reference (the baseline trained alone
/// where there is one, the paper's comparison; else the main branch alone), plus an optional margin, so that the choice
/// also holds on other images than the validation split's; the most accurate set where no set reaches it;</item>
/// <item><c>fast</c>: the cheapest set within <c>fastTolerance</c> of the reference's accuracy.</item>
/// </list>
/// (1, .., 1, 0) reproduces the main branch alone, so <c>balanced</c> always exists.
/// </summary>
public static class ThresholdCalibrator
{
    public const string Fast = "fast";
    public const string Balanced = "balanced";
    public const string Accurate = "accurate";

    /// <summary>Candidate thresholds for side exits; 1 switches an exit off.</summary>
    public static IReadOnlyList<float> SideGrid { get; } = [0.5f, 0.6f, 0.7f, 0.8f, 0.85f, 0.9f, 0.925f, 0.95f, 0.975f, 0.99f, 0.995f, 0.999f, 1f];

    /// <summary>Candidate thresholds for the main exit; above 0 lets unsure images fall back to fusion.</summary>
    public static IReadOnlyList<float> MainGrid { get; } = [0f, 0.5f, 0.75f, 0.9f];

    /// <param name="validation">Exit outputs on the validation split.</param>
    /// <param name="stageCost">Cost of each stage.</param>
    /// <param name="mainCost">Cost of the reference network (the baseline, or the main branch alone).</param>
    /// <param name="fastTolerance">Accuracy the fast preset may give up against the reference (0.01 = one point).</param>
    /// <param name="balancedMargin">Accuracy the balanced preset must gain over the reference on the validation split (0.002 = 0.2 points).</param>
    /// <param name="referenceAccuracy">Validation accuracy of the baseline trained alone; null to hold presets to the main exit.</param>
    public static CalibrationResult Calibrate(ExitEvaluation validation, IReadOnlyList<double> stageCost, double mainCost, double fastTolerance = 0.01, double balancedMargin = 0, double? referenceAccuracy = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(balancedMargin);
        ArgumentNullException.ThrowIfNull(validation);
        var m = validation.ExitCount;
        var mainAccuracy = validation.ExitAccuracy(m - 1);
        var candidates = new List<(ExitResult Result, double Cost)>();
        foreach (var thresholds in Grid(m))
        {
            var result = validation.Evaluate(thresholds);
            candidates.Add((result, result.ExpectedCost(stageCost)));
        }

        // Accuracy compared on whole images: the counts are exact, so no float noise decides a tie.
        int Correct(ExitResult r) => (int)Math.Round((1 - r.Error) * validation.Count);
        var reference = referenceAccuracy ?? mainAccuracy;
        var mainCorrect = (int)Math.Round(reference * validation.Count);
        var fastFloor = (int)Math.Ceiling((reference - fastTolerance) * validation.Count - 1e-9);

        var accurate = candidates.OrderByDescending(c => Correct(c.Result)).ThenBy(c => c.Cost).First();
        var balancedFloor = mainCorrect + (int)Math.Ceiling((balancedMargin * validation.Count) - 1e-9);
        var balanced = candidates.Where(c => Correct(c.Result) >= balancedFloor).OrderBy(c => c.Cost).ThenByDescending(c => Correct(c.Result)).FirstOrDefault(accurate);
        // A reference (the baseline) more accurate than every set leaves no set within the tolerance: the most accurate one then.
        var fast = candidates.Where(c => Correct(c.Result) >= fastFloor).OrderBy(c => c.Cost).ThenByDescending(c => Correct(c.Result)).FirstOrDefault(accurate);
        return new CalibrationResult(
            mainAccuracy,
            reference,
            mainCost,
            new Dictionary<string, (ExitResult, double)>(StringComparer.Ordinal) { [Fast] = fast, [Balanced] = balanced, [Accurate] = accurate },
            candidates.Count);
    }

    /// <summary>
    /// Chooses refine mode's rule on the validation split: the one whose final answer loses least accuracy against
    /// first-exit's at the worst of <paramref name="presets"/> (so that at every preset, waiting for the refinement
    /// is worth it wherever some rule makes it so); the earlier rule of <see cref="RefineRules.All"/> wins a tie.
    /// </summary>
    /// <returns>The rule, and for each rule the worst margin (refine minus first-exit accuracy) over the presets.</returns>
    public static (RefineRule Rule, IReadOnlyDictionary<RefineRule, double> WorstMargin) ChooseRefineRule(ExitEvaluation validation, IEnumerable<IReadOnlyList<float>> presets)
    {
        ArgumentNullException.ThrowIfNull(validation);
        var modes = presets.Select(validation.EvaluateModes).ToList();
        if (modes.Count == 0)
        {
            throw new ArgumentException("No presets to choose a refine rule for.", nameof(presets));
        }

        // Whole images, as the presets are compared: no float noise decides a tie.
        var worst = RefineRules.All.ToDictionary(r => r, r => modes.Min(m => Math.Round((m.Refine[r] - m.FirstExit) * validation.Count) / validation.Count));
        var best = RefineRules.All.OrderByDescending(r => worst[r]).First();
        return (best, worst);
    }

    private static IEnumerable<float[]> Grid(int exits)
    {
        var side = exits - 1;
        var index = new int[side];
        while (true)
        {
            foreach (var last in MainGrid)
            {
                var t = new float[exits];
                for (var s = 0; s < side; s++)
                {
                    t[s] = SideGrid[index[s]];
                }

                t[side] = last;
                yield return t;
            }

            var k = 0;
            while (k < side && ++index[k] == SideGrid.Count)
            {
                index[k] = 0;
                k++;
            }

            if (k == side)
            {
                yield break;
            }
        }
    }
}
