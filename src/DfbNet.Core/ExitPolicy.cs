namespace DfbNet.Core;

/// <summary>
/// Algorithm 1 of the DFB-Net paper: exit s answers when max(softmax(z_s)) &gt; p_s, strictly;
/// otherwise its softmax joins a running sum, and when no exit answers the argmax of the mean over
/// all M exits is the prediction (probability fusion).
/// </summary>
public sealed class ExitPolicy
{
    private readonly float[] _thresholds;

    /// <param name="thresholds">p_1..p_M.</param>
    /// <param name="preset">The name of the preset these thresholds are, or null for explicit ones.</param>
    /// <param name="refineRule">How refine mode answers once exits after the answering one have run (the model's).</param>
    public ExitPolicy(IReadOnlyList<float> thresholds, string? preset = null, RefineRule refineRule = RefineRule.Fusion)
    {
        ArgumentNullException.ThrowIfNull(thresholds);
        Preset = preset;
        RefineRule = refineRule;
        if (thresholds.Count == 0)
        {
            throw new ArgumentException("At least one exit threshold is required.", nameof(thresholds));
        }

        _thresholds = new float[thresholds.Count];
        for (var i = 0; i < thresholds.Count; i++)
        {
            var p = thresholds[i];
            if (!(p >= 0f && p <= 1f))
            {
                throw new ArgumentOutOfRangeException(nameof(thresholds), p, $"Threshold of exit {i + 1} must lie in [0, 1].");
            }

            _thresholds[i] = p;
        }
    }

    /// <summary>The preset's name; null for explicit thresholds.</summary>
    public string? Preset { get; }

    /// <summary>The model's rule for refine mode's final answer.</summary>
    public RefineRule RefineRule { get; }

    /// <summary>M, the number of exits.</summary>
    public int ExitCount => _thresholds.Length;

    public IReadOnlyList<float> Thresholds => _thresholds;

    /// <summary>p_s for a zero-based exit index.</summary>
    public float Threshold(int exitIndex) => _thresholds[exitIndex];

    /// <summary>True when the exit is confident: max(y) &gt; p_s (a confidence equal to p_s does not exit).</summary>
    public bool ShouldExit(int exitIndex, float confidence) => confidence > _thresholds[exitIndex];

    /// <summary>Numerically stable softmax of <paramref name="logits"/> into <paramref name="probabilities"/>.</summary>
    public static void Softmax(ReadOnlySpan<float> logits, Span<float> probabilities)
    {
        if (probabilities.Length != logits.Length)
        {
            throw new ArgumentException("The output span must have the length of the logits.", nameof(probabilities));
        }

        var max = float.NegativeInfinity;
        foreach (var z in logits)
        {
            if (z > max)
            {
                max = z;
            }
        }

        double sum = 0;
        for (var i = 0; i < logits.Length; i++)
        {
            var e = MathF.Exp(logits[i] - max);
            probabilities[i] = e;
            sum += e;
        }

        var inv = (float)(1.0 / sum);
        for (var i = 0; i < probabilities.Length; i++)
        {
            probabilities[i] *= inv;
        }
    }

    /// <summary>Index of the largest value; the lowest index wins a tie, as numpy's argmax does.</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty)
        {
            throw new ArgumentException("No values.", nameof(values));
        }

        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>
    /// Runs Algorithm 1 over precomputed softmax outputs of all exits (the reference the engine is tested against,
    /// and what offline evaluation uses). Returns the predicted class and the 1-based exit, or 0 for fusion.
    /// </summary>
    public (int ClassIndex, int Exit) Decide(IReadOnlyList<float[]> exitProbabilities)
    {
        ArgumentNullException.ThrowIfNull(exitProbabilities);
        if (exitProbabilities.Count != ExitCount)
        {
            throw new ArgumentException($"Expected {ExitCount} exits, got {exitProbabilities.Count}.", nameof(exitProbabilities));
        }

        var classes = exitProbabilities[0].Length;
        Span<float> sum = classes <= 256 ? stackalloc float[classes] : new float[classes];
        sum.Clear();
        for (var s = 0; s < ExitCount; s++)
        {
            var y = exitProbabilities[s];
            var c = ArgMax(y);
            if (ShouldExit(s, y[c]))
            {
                return (c, s + 1);
            }

            for (var k = 0; k < classes; k++)
            {
                sum[k] += y[k];
            }
        }

        // Dividing by M does not change the argmax; kept out of the loop.
        return (ArgMax(sum), 0);
    }
}
