namespace DfbNet.Core;

/// <summary>
/// How refine mode turns the exits computed for a frame that an exit has already answered into its final answer.
/// Frames no exit answered end with the fusion of all exits, as Algorithm 1 says, in every mode; full mode is the
/// fusion of all M exits. <c>dfbnet calibrate</c> chooses the rule on the validation split.
/// </summary>
public enum RefineRule
{
    /// <summary>The mean softmax of every exit computed (the paper's probability fusion, over the exits so far).</summary>
    Fusion = 0,

    /// <summary>The mean softmax of the answering exit and every later exit computed: the exits that were not sure
    /// before the answer do not vote.</summary>
    FusionFromAnswer = 1,

    /// <summary>The deepest exit computed.</summary>
    Deepest = 2,

    /// <summary>The softmax of every exit computed, each weighted by its own confidence (its largest probability).</summary>
    ConfidenceWeighted = 3,

    /// <summary>The most confident of the answering exit and the later exits computed (the earlier one on a tie).</summary>
    MostConfident = 4,
}

/// <summary>The refine rules' names in manifests and settings, and the rules themselves.</summary>
public static class RefineRules
{
    /// <summary>Every rule, in the order calibration tries them (the first wins a tie).</summary>
    public static IReadOnlyList<RefineRule> All { get; } =
        [RefineRule.FusionFromAnswer, RefineRule.MostConfident, RefineRule.ConfidenceWeighted, RefineRule.Deepest, RefineRule.Fusion];

    public static string Name(RefineRule rule) => rule switch
    {
        RefineRule.Fusion => "fusion",
        RefineRule.FusionFromAnswer => "fusion-from-answer",
        RefineRule.Deepest => "deepest",
        RefineRule.ConfidenceWeighted => "confidence-weighted",
        RefineRule.MostConfident => "most-confident",
        _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, null),
    };

    public static bool TryParse(string? text, out RefineRule rule)
    {
        foreach (var candidate in All)
        {
            if (string.Equals(Name(candidate), text, StringComparison.OrdinalIgnoreCase))
            {
                rule = candidate;
                return true;
            }
        }

        rule = RefineRule.Fusion;
        return false;
    }

    /// <summary>The names, for messages: "fusion, fusion-from-answer, ...".</summary>
    public static string Names => string.Join(", ", All.Select(Name));

    /// <summary>
    /// The final distribution of a frame answered at zero-based exit <paramref name="answered"/> whose exits
    /// 0..<paramref name="exits"/>.Count-1 were computed. Returns the index of the single exit the answer is (or -1
    /// when it combines several) and writes the distribution into <paramref name="result"/>.
    /// </summary>
    public static int Combine(RefineRule rule, IReadOnlyList<float[]> exits, int answered, Span<float> result)
    {
        ArgumentNullException.ThrowIfNull(exits);
        ArgumentOutOfRangeException.ThrowIfNegative(answered);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(answered, exits.Count);
        var deepest = exits.Count - 1;
        switch (rule)
        {
            case RefineRule.Deepest:
                exits[deepest].CopyTo(result);
                return deepest;

            case RefineRule.MostConfident:
            {
                var best = answered;
                for (var s = answered + 1; s <= deepest; s++)
                {
                    if (Max(exits[s]) > Max(exits[best]))
                    {
                        best = s;
                    }
                }

                exits[best].CopyTo(result);
                return best;
            }

            case RefineRule.Fusion:
            case RefineRule.FusionFromAnswer:
            case RefineRule.ConfidenceWeighted:
            {
                var first = rule == RefineRule.FusionFromAnswer ? answered : 0;
                if (first == deepest)
                {
                    exits[deepest].CopyTo(result);
                    return deepest;
                }

                result.Clear();
                double total = 0;
                for (var s = first; s <= deepest; s++)
                {
                    var weight = rule == RefineRule.ConfidenceWeighted ? Max(exits[s]) : 1f;
                    total += weight;
                    var y = exits[s];
                    for (var k = 0; k < result.Length; k++)
                    {
                        result[k] += weight * y[k];
                    }
                }

                var scale = (float)(1 / total);
                for (var k = 0; k < result.Length; k++)
                {
                    result[k] *= scale;
                }

                return -1;
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(rule), rule, null);
        }
    }

    private static float Max(float[] y)
    {
        var max = y[0];
        for (var k = 1; k < y.Length; k++)
        {
            max = Math.Max(max, y[k]);
        }

        return max;
    }
}
