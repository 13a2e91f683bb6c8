using System.Text.Json.Serialization;

namespace DfbNet.Core.Manifest;

/// <summary>
/// <c>models/&lt;name&gt;/manifest.json</c>: everything the server needs to load and serve one DFB-Net.
/// Stage s takes the trunk feature of stage s-1 (stage 1 the preprocessed image) and returns
/// the logits of exit s and, except for the last stage, the trunk feature of stage s+1.
/// </summary>
public sealed class ModelManifest
{
    /// <summary>The schema version this code reads and writes.</summary>
    public const int CurrentSchemaVersion = 1;

    /// <summary>The file name of a manifest inside a model folder.</summary>
    public const string FileName = "manifest.json";

    /// <summary>Most stages (exits) a model may have: what a stream sizes its event buffer by, whatever model it serves next.</summary>
    public const int MaxStages = 32;

    public int SchemaVersion { get; set; }

    /// <summary>Human readable description (architecture, data set, whether it is trained).</summary>
    public string? Description { get; set; }

    /// <summary>True for a model built with random weights (tests, the placeholder default model).</summary>
    public bool Untrained { get; set; }

    /// <summary>Class names, index order equals logit order.</summary>
    public List<string> Classes { get; set; } = [];

    public InputSpec Input { get; set; } = new();

    public List<StageSpec> Stages { get; set; } = [];

    public ThresholdSpec Thresholds { get; set; } = new();

    /// <summary>
    /// The baseline network trained alone (the paper's comparison), optional: one ONNX graph from the image to the
    /// logits. Not served; <c>dfbnet eval</c> and <c>dfbnet calibrate</c> measure accuracy and gains against it.
    /// </summary>
    public BaselineSpec? Baseline { get; set; }

    public TrainingInfo? Training { get; set; }

    public AccuracyInfo? Accuracy { get; set; }
}

/// <summary>The tensor stage 1 expects: NCHW float, RGB, normalised as <c>(pixel * scale - mean) / std</c>.</summary>
public sealed class InputSpec
{
    public int Width { get; set; }

    public int Height { get; set; }

    public int Channels { get; set; } = 3;

    public NormalizationSpec Normalization { get; set; } = new();
}

public sealed class NormalizationSpec
{
    /// <summary>Applied to the 0..255 pixel value first (usually 1/255).</summary>
    public float Scale { get; set; } = 1f / 255f;

    /// <summary>Per-channel mean (R, G, B) subtracted after scaling.</summary>
    public float[] Mean { get; set; } = [0f, 0f, 0f];

    /// <summary>Per-channel standard deviation (R, G, B) divided by last.</summary>
    public float[] Std { get; set; } = [1f, 1f, 1f];
}

public sealed class StageSpec
{
    /// <summary>ONNX file, relative to the model folder.</summary>
    public string File { get; set; } = "";

    /// <summary>Name of the stage's single input.</summary>
    public string Input { get; set; } = "";

    /// <summary>Name of the output holding this exit's logits, shape [N, classes].</summary>
    public string LogitsOutput { get; set; } = "";

    /// <summary>Name of the trunk feature output handed to the next stage; null on the last stage.</summary>
    public string? FeatureOutput { get; set; }

    /// <summary>Multiply-accumulate operations for one image (informational, used for planning before any timing).</summary>
    public long Flops { get; set; }

    public long Parameters { get; set; }
}

/// <summary>The baseline network: same input as stage 1 (its name <see cref="Input"/>), logits of all classes.</summary>
public sealed class BaselineSpec
{
    /// <summary>ONNX file, relative to the model folder.</summary>
    public string File { get; set; } = "";

    public string Input { get; set; } = "";

    public string LogitsOutput { get; set; } = "";

    /// <summary>How it was trained (for example "main branch alone, 24 epochs").</summary>
    public string? Description { get; set; }

    public long Flops { get; set; }

    public long Parameters { get; set; }
}

public sealed class ThresholdSpec
{
    /// <summary>The preset used when a request names none.</summary>
    public string Default { get; set; } = "";

    /// <summary>Named per-exit thresholds p_1..p_M, each in [0, 1].</summary>
    [JsonPropertyName("presets")]
    public Dictionary<string, float[]> Presets { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Refine mode's final answer for a frame an exit has answered (<see cref="DfbNet.Core.RefineRules"/>: fusion,
    /// fusion-from-answer, deepest, confidence-weighted, most-confident); absent means fusion. Calibration chooses it.
    /// </summary>
    public string? RefineRule { get; set; }
}

public sealed class TrainingInfo
{
    public string? Command { get; set; }

    public string? Dataset { get; set; }

    public string? Machine { get; set; }

    public string? Date { get; set; }

    public double? DurationSeconds { get; set; }

    public string? Notes { get; set; }

    /// <summary>How the training data was split; <c>dfbnet eval</c> and <c>dfbnet calibrate</c> split it the same way.</summary>
    public DataSplit? Split { get; set; }
}

/// <summary>
/// How a data folder is split into training, validation and test images. CIFAR-10 holds out
/// <see cref="ValidationCount"/> of its 50,000 training images (its test images are test_batch.bin); an image folder
/// without val/ or test/ subfolders holds out those shares of every class. Every random choice follows <see cref="Seed"/>.
/// </summary>
public sealed record DataSplit
{
    public const double DefaultShare = 0.1;

    public int Seed { get; init; } = 1;

    /// <summary>CIFAR-10: training images held out for validation and threshold calibration.</summary>
    public int ValidationCount { get; init; } = 5000;

    /// <summary>An image folder without val/: the share of every class held out for validation and calibration.</summary>
    public double ValidationShare { get; init; } = DefaultShare;

    /// <summary>An image folder without test/: the share of every class held out for testing.</summary>
    public double TestShare { get; init; } = DefaultShare;
}

public sealed class AccuracyInfo
{
    /// <summary>The split the figures were measured on (for example <c>CIFAR-10 test</c>).</summary>
    public string? Dataset { get; set; }

    /// <summary>Top-1 accuracy of each exit alone, exit 1..M.</summary>
    public float[]? Exits { get; set; }

    /// <summary>Top-1 accuracy of the baseline trained alone (null without one).</summary>
    public float? Baseline { get; set; }

    /// <summary>Top-1 accuracy per preset name.</summary>
    public Dictionary<string, float>? Presets { get; set; }
}
