namespace DfbNet.Training.Evaluation;

/// <summary>The presets a calibration chose, with their validation figures.</summary>
public sealed record CalibrationResult(
    double MainAccuracy,
    double MainCost,
    IReadOnlyDictionary<string, (ExitResult Result, double Cost)> Presets,
    int Candidates);

/// <summary>
/// Sweeps exit thresholds on the validation split and picks three presets by expected cost (stage FLOPs or measured
/// stage times weighted by how many images reach each stage):
/// <list type="bullet">
/// <item><c>accurate</c>: the most accurate set (the cheapest among equals);</item>
/// <item><c>balanced</c>, the default: the cheapest set at least as accurate as the main branch alone (plus an optional
/// margin, so that the choice also holds on other images than the validation split's; the most accurate set where no
/// set reaches it);</item>
/// <item><c>fast</c>: the cheapest set within <c>fastTolerance</c> of the main branch's accuracy.</item>
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
    /// <param name="mainCost">Cost of the main branch alone (no side exits).</param>
    /// <param name="fastTolerance">Accuracy the fast preset may give up against the main branch (0.01 = one point).</param>
    /// <param name="balancedMargin">Accuracy the balanced preset must gain over the main branch on the validation split (0.002 = 0.2 points).</param>
    public static CalibrationResult Calibrate(ExitEvaluation validation, IReadOnlyList<double> stageCost, double mainCost, double fastTolerance = 0.01, double balancedMargin = 0)
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
        var mainCorrect = (int)Math.Round(mainAccuracy * validation.Count);
        var fastFloor = (int)Math.Ceiling((mainAccuracy - fastTolerance) * validation.Count - 1e-9);

        var accurate = candidates.OrderByDescending(c => Correct(c.Result)).ThenBy(c => c.Cost).First();
        var balancedFloor = mainCorrect + (int)Math.Ceiling((balancedMargin * validation.Count) - 1e-9);
        var balanced = candidates.Where(c => Correct(c.Result) >= balancedFloor).OrderBy(c => c.Cost).ThenByDescending(c => Correct(c.Result)).FirstOrDefault(accurate);
        var fast = candidates.Where(c => Correct(c.Result) >= fastFloor).OrderBy(c => c.Cost).ThenByDescending(c => Correct(c.Result)).First();
        return new CalibrationResult(
            mainAccuracy,
            mainCost,
            new Dictionary<string, (ExitResult, double)>(StringComparer.Ordinal) { [Fast] = fast, [Balanced] = balanced, [Accurate] = accurate },
            candidates.Count);
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
