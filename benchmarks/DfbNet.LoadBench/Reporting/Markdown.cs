using System.Globalization;
using System.Text;

namespace DfbNet.LoadBench.Reporting;

/// <summary>Markdown tables and the number formats of results.md.</summary>
internal static class Markdown
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static string Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        var text = new StringBuilder();
        text.Append("| ").AppendJoin(" | ", header).AppendLine(" |");
        text.Append('|').AppendJoin("", header.Select(_ => "---|")).AppendLine();
        foreach (var row in rows)
        {
            text.Append("| ").AppendJoin(" | ", row).AppendLine(" |");
        }

        return text.ToString();
    }

    /// <summary>Milliseconds with two decimals, "-" for none.</summary>
    public static string Ms(double? value) => value is { } v ? v.ToString("0.00", C) : "-";

    /// <summary>A rate in frames/s, whole.</summary>
    public static string Rate(double? value) => value is { } v ? v.ToString("0", C) : "-";

    public static string Percent(double? rate) => rate is { } r ? (100 * r).ToString("0.0", C) + "%" : "-";

    public static string Number(double? value, string format = "0.00") => value is { } v ? v.ToString(format, C) : "-";

    /// <summary>"a..b" over the values (one value alone when they agree to the format), "-" for none.</summary>
    public static string Spread(IEnumerable<double?> values, string format = "0.00")
    {
        var known = values.Where(v => v is not null).Select(v => v!.Value).ToList();
        if (known.Count == 0)
        {
            return "-";
        }

        var low = known.Min().ToString(format, C);
        var high = known.Max().ToString(format, C);
        return low == high ? low : $"{low}..{high}";
    }

    public static string Counts(IReadOnlyDictionary<string, int> counts) =>
        counts.Count == 0 ? "none" : string.Join(", ", counts.Select(p => string.Create(C, $"{p.Key} {p.Value}")));
}
