using System.Globalization;

namespace DfbNet.Core;

/// <summary>The text forms of settings that arrive as strings: call metadata, protocol parameters, command lines.</summary>
public static class SettingText
{
    /// <summary>The accepted mode names, for messages.</summary>
    public const string ModeNames = "first-exit, refine, full";

    /// <summary>Reads <c>first-exit</c> (also <c>first_exit</c>, <c>firstexit</c>), <c>refine</c> or <c>full</c>, in any case.</summary>
    public static bool TryParseMode(string? text, out InferenceMode mode)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "first-exit" or "first_exit" or "firstexit":
                mode = InferenceMode.FirstExit;
                return true;
            case "refine":
                mode = InferenceMode.Refine;
                return true;
            case "full":
                mode = InferenceMode.Full;
                return true;
            default:
                mode = default;
                return false;
        }
    }

    /// <summary>Reads comma-separated thresholds p_1..p_M; <paramref name="problem"/> names the value that is not a number.</summary>
    public static bool TryParseThresholds(string text, out float[] values, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        values = new float[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
            {
                problem = $"value {i + 1} '{parts[i]}' is not a number";
                return false;
            }
        }

        problem = null;
        return true;
    }
}
