using System.Globalization;
using DfbNet.Core;
using DfbNet.Core.Manifest;

namespace DfbNet.Cli.Import;

/// <summary>
/// The settings of <c>dfbnet import</c>, checked. Numbers and lists arrive as text and are read here, with the invariant
/// culture, so that a bad value is one line naming its option (exit code 2) rather than System.CommandLine's usage screen.
/// </summary>
internal sealed record ImportOptions
{
    public const string DefaultScale = "1/255";

    /// <summary>The stage files, in order.</summary>
    public required IReadOnlyList<string> Stages { get; init; }

    public required IReadOnlyList<string> Classes { get; init; }

    public required NormalizationSpec Normalization { get; init; }

    /// <summary>The square input side the user expects; null: stage 1's.</summary>
    public int? InputSize { get; init; }

    /// <summary>The whole baseline network (image to logits), or null.</summary>
    public string? Baseline { get; init; }

    /// <summary>Per stage, the logits output's name, or null to find it by shape.</summary>
    public required IReadOnlyList<string?> LogitsNames { get; init; }

    /// <summary>Per stage but the last, the feature output's name, or null to find it by shape.</summary>
    public required IReadOnlyList<string?> FeatureNames { get; init; }

    public required string OutFolder { get; init; }

    public string? Description { get; init; }

    /// <exception cref="ImportException">An option is missing or malformed, or a file does not exist.</exception>
    public static ImportOptions Parse(
        IReadOnlyList<string> stage,
        string? stages,
        string classes,
        string mean,
        string std,
        string scale,
        string? inputSize,
        string? baseline,
        IReadOnlyList<string> logitsNames,
        IReadOnlyList<string> featureNames,
        string outFolder,
        string? description)
    {
        var files = StageFiles(stage, stages);
        if (baseline is not null && !File.Exists(baseline))
        {
            throw new ImportException($"--baseline '{baseline}': no such file");
        }

        return new ImportOptions
        {
            Stages = files,
            Classes = ClassNames(classes),
            Normalization = new NormalizationSpec
            {
                Scale = Scale(scale),
                Mean = Channels("--mean", mean, positive: false),
                Std = Channels("--std", std, positive: true),
            },
            InputSize = inputSize is null ? null : Side(inputSize),
            Baseline = baseline,
            LogitsNames = PerStage(StageChain.LogitsOption, logitsNames, files.Count, "stage"),
            FeatureNames = PerStage(StageChain.FeatureOption, featureNames, files.Count - 1, "stage but the last"),
            OutFolder = outFolder,
            Description = description,
        };
    }

    private static List<string> StageFiles(IReadOnlyList<string> stage, string? stages)
    {
        if (stage.Count > 0 && stages is not null)
        {
            throw new ImportException("--stage and --stages both given; name the stage files one way (--stage FILE per stage, or --stages a.onnx,b.onnx)");
        }

        List<string> files = stages is null ? [.. stage] : [.. stages.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)];
        if (files.Count == 0)
        {
            throw new ImportException("no stage files; name them in order with --stage FILE (once per stage) or --stages a.onnx,b.onnx,c.onnx");
        }

        var option = stages is null ? "--stage" : "--stages";
        foreach (var file in files)
        {
            if (!File.Exists(file))
            {
                throw new ImportException($"{option} '{file}': no such file");
            }
        }

        return files;
    }

    /// <summary>A text file with one name per line, or a comma list.</summary>
    private static List<string> ClassNames(string text)
    {
        List<string> names;
        if (File.Exists(text))
        {
            names = [.. File.ReadAllLines(text).Select(l => l.Trim()).Where(l => l.Length > 0)];
        }
        else if (text.Contains(',', StringComparison.Ordinal))
        {
            names = [.. text.Split(',', StringSplitOptions.TrimEntries)];
            if (names.IndexOf("") is var empty and >= 0)
            {
                throw new ImportException($"--classes '{text}': name {empty + 1} is empty");
            }
        }
        else
        {
            throw new ImportException($"--classes '{text}': neither a file of class names (one per line) nor a comma list of them");
        }

        if (names.Count < 2)
        {
            throw new ImportException($"--classes '{text}': {names.Count} class name(s); a classifier needs at least two");
        }

        if (names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new ImportException($"--classes '{text}': '{twice.Key}' is named {twice.Count()} times; the logits' positions need one name each");
        }

        return names;
    }

    /// <summary>A positive number, or a fraction such as 1/255.</summary>
    private static float Scale(string text)
    {
        var parts = text.Split('/', StringSplitOptions.TrimEntries);
        var numbers = parts.Select(p => float.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : float.NaN).ToArray();
        var value = parts.Length switch
        {
            1 => numbers[0],
            2 => numbers[0] / numbers[1],
            _ => float.NaN,
        };
        if (!(value > 0) || !float.IsFinite(value))
        {
            throw new ImportException($"--scale '{text}': expected a positive number or fraction, such as {DefaultScale} (pixels 0..255 to 0..1) or 1 (pixels as they are)");
        }

        return value;
    }

    private static float[] Channels(string option, string text, bool positive)
    {
        if (!SettingText.TryParseThresholds(text, out var values, out var problem))
        {
            throw new ImportException($"{option} '{text}': {problem}");
        }

        if (values.Length != 3)
        {
            throw new ImportException($"{option} '{text}': {values.Length} value(s); expected three, for R, G and B");
        }

        for (var c = 0; c < 3; c++)
        {
            if (!float.IsFinite(values[c]) || (positive && !(values[c] > 0)))
            {
                throw new ImportException($"{option} '{text}': value {c + 1} is {values[c].ToString(CultureInfo.InvariantCulture)}; expected a {(positive ? "positive" : "finite")} number");
            }
        }

        return values;
    }

    private static int Side(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var side) && side is >= 1 and <= 4096
            ? side
            : throw new ImportException($"--input-size '{text}': expected a side in pixels from 1 to 4096");

    /// <summary>A name given once applies to every stage it can; given once per such stage, each to its own.</summary>
    private static List<string?> PerStage(string option, IReadOnlyList<string> names, int count, string what) => names.Count switch
    {
        0 => [.. Enumerable.Repeat<string?>(null, count)],
        1 => [.. Enumerable.Repeat<string?>(names[0], count)],
        _ when names.Count == count => [.. names],
        _ => throw new ImportException($"{option} given {names.Count} times for {count} stage(s) that have one; give it once (the same name in every {what}) or once per {what}, in order"),
    };
}
