namespace DfbNet.Core.Manifest;

/// <summary>
/// The presets of a model folder that has not been calibrated (an export, an untrained model, an import):
/// <see cref="Main"/>, the default, and <see cref="Paper"/>. <c>dfbnet calibrate</c> adds presets chosen on the
/// model's own validation images and makes its balanced one the default.
/// </summary>
public static class DefaultPresets
{
    /// <summary>Never exits early: exits 1..M-1 never fire (max softmax cannot exceed 1) and exit M always does, so the
    /// model answers as its main branch alone.</summary>
    public const string Main = "main";

    /// <summary>The paper's CIFAR-10 thresholds: 0.99 at every side exit, 0.75 at the last.</summary>
    public const string Paper = "paper";

    /// <param name="exits">The model's exit (stage) count.</param>
    public static ThresholdSpec Create(int exits)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(exits, 1);
        return new ThresholdSpec
        {
            Default = Main,
            Presets =
            {
                [Main] = [.. Enumerable.Repeat(1f, exits - 1), 0f],
                [Paper] = [.. Enumerable.Repeat(0.99f, exits - 1), 0.75f],
            },
        };
    }
}
