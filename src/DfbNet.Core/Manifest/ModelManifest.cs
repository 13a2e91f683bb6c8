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

public sealed class ThresholdSpec
{
    /// <summary>The preset used when a request names none.</summary>
    public string Default { get; set; } = "";

    /// <summary>Named per-exit thresholds p_1..p_M, each in [0, 1].</summary>
    [JsonPropertyName("presets")]
    public Dictionary<string, float[]> Presets { get; set; } = new(StringComparer.Ordinal);
}

public sealed class TrainingInfo
{
    public string? Command { get; set; }

    public string? Dataset { get; set; }

    public string? Machine { get; set; }

    public string? Date { get; set; }

    public double? DurationSeconds { get; set; }

    public string? Notes { get; set; }
}

public sealed class AccuracyInfo
{
    /// <summary>The split the figures were measured on (for example <c>cifar10-test</c>).</summary>
    public string? Dataset { get; set; }

    /// <summary>Top-1 accuracy of each exit alone, exit 1..M.</summary>
    public float[]? Exits { get; set; }

    /// <summary>Top-1 accuracy per preset name.</summary>
    public Dictionary<string, float>? Presets { get; set; }
}
