namespace DfbNet.Server.Internal;

/// <summary>The tensor names and datatypes DfbNet serves over the Open Inference Protocol.</summary>
internal static class OipTensors
{
    /// <summary>An encoded JPEG or PNG: BYTES [1].</summary>
    public const string Image = "IMAGE";

    /// <summary>A raw RGB frame: UINT8 [H, W, 3] or [1, H, W, 3].</summary>
    public const string Frame = "FRAME";

    /// <summary>The preprocessed input: FP32 [1, 3, H, W], normalised as the model's manifest says.</summary>
    public const string Tensor = "TENSOR";

    /// <summary>The class probabilities of the answer: FP32 [1, K].</summary>
    public const string Probabilities = "PROBABILITIES";

    public const string Bytes = "BYTES";
    public const string UInt8 = "UINT8";
    public const string Fp32 = "FP32";

    /// <summary>The one version each model has.</summary>

    /// <summary>Request parameter: a threshold preset name.</summary>
    public const string PresetParameter = "preset";

    /// <summary>Request parameter: explicit thresholds, comma separated.</summary>
    public const string ThresholdsParameter = "thresholds";

    /// <summary>Request parameter: first-exit, refine or full.</summary>
    public const string ModeParameter = "mode";

    /// <summary>Triton's request timeout in microseconds; DfbNet's per-frame budget.</summary>
    public const string TimeoutParameter = "timeout";

    /// <summary>Request parameter (bool): run exit 1 even when the budget (timeout) cannot be met.</summary>
    public const string AlwaysAnswerParameter = "always_answer";

    /// <summary>Output parameter of the classification extension: return the top k as "score:index:label".</summary>
    public const string ClassificationParameter = "classification";
}
