namespace DfbNet.Training.Data;

/// <summary>
/// How images become network inputs. Training: random height and width in [ScaleMin, ScaleMax], bilinear resize,
/// random CropSize crop, random horizontal flip (the paper's scale and aspect-ratio augmentation, scaled for other
/// input sizes). Test: bilinear resize to TestSize, no crop. Both end with the per-channel normalisation
/// <c>(pixel / 255 - mean) / std</c> that the manifest records, so the served model sees exactly what eval saw.
/// </summary>
public sealed record InputRecipe(int TestSize, int CropSize, int ScaleMin, int ScaleMax, float[] Mean, float[] Std)
{
    /// <summary>The pixel multiplier of channel c, computed as the server's preprocessor does (scale / std).</summary>
    public float Multiplier(int c) => (1f / 255f) / Std[c];

    public float Offset(int c) => -Mean[c] / Std[c];
}
