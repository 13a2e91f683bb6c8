using System.Globalization;
using ScottPlot;
using ScottPlot.TickGenerators;
using SkiaSharp;

namespace DfbNet.LoadBench.Reporting;

/// <summary>One line of a chart: a name for the legend, points (a null y is left out), a colour and a style.</summary>
/// <param name="Dashed">A dashed line with open markers (p50 beside a solid p99, say).</param>
internal sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double?> Y, Color Color, bool Dashed = false);

/// <summary>
/// The plots of results.md, drawn with ScottPlot: line charts (log axes drawn as log10 values with 1-2-5 ticks, since
/// ScottPlot has no log scale), bar charts, and several panels side by side in one PNG.
/// </summary>
internal static class Charts
{
    public static readonly Color Blue = Color.FromHex("#1f77b4");
    public static readonly Color Orange = Color.FromHex("#ff7f0e");
    public static readonly Color Green = Color.FromHex("#2ca02c");
    public static readonly Color Purple = Color.FromHex("#9467bd");
    public static readonly Color Red = Color.FromHex("#d62728");

    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    /// <param name="referenceY">A horizontal line (a bound), with <paramref name="referenceLabel"/> in the legend.</param>
    /// <param name="diagonal">Draw y = x (goodput against offered load).</param>
    /// <param name="yRange">Fixed limits of a linear y axis (a percentage, say); null to fit the data.</param>
    public static Plot Lines(string title, string xLabel, string yLabel, IReadOnlyList<Series> series, bool logX = false, bool logY = false, double? referenceY = null, string? referenceLabel = null, bool diagonal = false, (double Low, double High)? yRange = null)
    {
        var plot = new Plot();
        var xs = new List<double>();
        var ys = new List<double>();
        foreach (var s in series)
        {
            var points = s.X.Zip(s.Y)
                .Where(p => p.Second is { } y && double.IsFinite(y) && (!logY || y > 0) && (!logX || p.First > 0))
                .Select(p => (X: p.First, Y: p.Second!.Value))
                .ToList();
            if (points.Count == 0)
            {
                continue;
            }

            xs.AddRange(points.Select(p => p.X));
            ys.AddRange(points.Select(p => p.Y));
            var line = plot.Add.Scatter(points.Select(p => Axis(p.X, logX)).ToArray(), points.Select(p => Axis(p.Y, logY)).ToArray());
            line.LegendText = s.Name;
            line.Color = s.Color;
            line.LineWidth = 2;
            line.MarkerSize = 6;
            line.LinePattern = s.Dashed ? LinePattern.Dashed : LinePattern.Solid;
            line.MarkerShape = s.Dashed ? MarkerShape.OpenCircle : MarkerShape.FilledCircle;
        }

        if (referenceY is { } reference)
        {
            var bound = plot.Add.HorizontalLine(Axis(reference, logY));
            bound.Color = Red;
            bound.LinePattern = LinePattern.Dotted;
            bound.LineWidth = 1.5f;
            bound.LegendText = referenceLabel ?? "";
            ys.Add(reference);
        }

        if (diagonal && xs.Count > 0)
        {
            var low = xs.Min();
            var high = xs.Max();
            var line = plot.Add.Scatter(new[] { Axis(low, logX), Axis(high, logX) }, new[] { Axis(low, logY), Axis(high, logY) });
            line.LegendText = "answered = offered";
            line.Color = Colors.Gray;
            line.LinePattern = LinePattern.Dotted;
            line.MarkerSize = 0;
        }

        if (logX && xs.Count > 0)
        {
            plot.Axes.Bottom.TickGenerator = LogTicks(xs.Min(), xs.Max());
        }

        if (logY && ys.Count > 0)
        {
            plot.Axes.Left.TickGenerator = LogTicks(ys.Min(), ys.Max());
        }

        if (yRange is { } range && !logY)
        {
            plot.Axes.SetLimitsY(range.Low, range.High);
        }

        Label(plot, title, xLabel, yLabel);

        // Beside the data, never over a point.
        plot.ShowLegend(Edge.Right);
        return plot;
    }

    /// <summary>Bars at 0, 1, 2... named <paramref name="names"/>, each with its value written above it, and the single
    /// measurements behind each bar as dots.</summary>
    public static Plot Bars(string title, string yLabel, IReadOnlyList<string> names, IReadOnlyList<double?> values, IReadOnlyList<IReadOnlyList<double>> samples, IReadOnlyList<Color> colors)
    {
        var plot = new Plot();
        var ticks = new NumericManual();
        var top = 0.0;
        for (var i = 0; i < names.Count; i++)
        {
            ticks.AddMajor(i, names[i]);
            if (values[i] is not { } value)
            {
                continue;
            }

            var bar = plot.Add.Bar(new Bar { Position = i, Value = value, FillColor = colors[i % colors.Count], Label = value.ToString("0.00", C) });
            bar.ValueLabelStyle.FontSize = 14;
            top = Math.Max(top, value);
            if (samples[i].Count > 1)
            {
                var dots = plot.Add.ScatterPoints(samples[i].Select(_ => (double)i).ToArray(), samples[i].ToArray());
                dots.Color = Colors.Black;
                dots.MarkerSize = 7;
                top = Math.Max(top, samples[i].Max());
            }
        }

        plot.Axes.Bottom.TickGenerator = ticks;
        plot.Axes.SetLimits(-0.6, names.Count - 0.4, 0, top <= 0 ? 1 : top * 1.2);
        Label(plot, title, "", yLabel);
        return plot;
    }

    /// <summary>Points with a text label each (accuracy against time), no lines.</summary>
    public static Plot LabelledPoints(string title, string xLabel, string yLabel, IReadOnlyList<(string Label, double X, double Y)> points)
    {
        var plot = new Plot();
        var xSpan = points.Count > 0 ? Math.Max(points.Max(p => p.X) - points.Min(p => p.X), 1e-9) : 1;
        var ySpan = points.Count > 0 ? Math.Max(points.Max(p => p.Y) - points.Min(p => p.Y), 1e-9) : 1;
        var above = new List<(double X, double Y)>();
        foreach (var (label, x, y) in points.OrderBy(p => p.X))
        {
            var dot = plot.Add.ScatterPoints(new[] { x }, new[] { y });
            dot.Color = Blue;
            dot.MarkerSize = 9;
            var text = plot.Add.Text(label, x, y);
            text.LabelFontSize = 14;
            text.OffsetX = 6;

            // A label goes above its point unless one above a close neighbour would overlap it; then below.
            if (above.Any(o => Math.Abs(o.X - x) < 0.12 * xSpan && Math.Abs(o.Y - y) < 0.06 * ySpan))
            {
                text.LabelAlignment = Alignment.UpperLeft;
                text.OffsetY = 4;
            }
            else
            {
                text.LabelAlignment = Alignment.LowerLeft;
                text.OffsetY = -4;
                above.Add((x, y));
            }
        }

        if (points.Count > 0)
        {
            var (x0, x1) = Pad(points.Min(p => p.X), points.Max(p => p.X));
            var (y0, y1) = Pad(points.Min(p => p.Y), points.Max(p => p.Y));
            plot.Axes.SetLimits(x0, x1 + 0.25 * (x1 - x0), y0, y1);
        }

        Label(plot, title, xLabel, yLabel);
        return plot;

        static (double, double) Pad(double low, double high)
        {
            var span = high - low;
            var pad = span > 0 ? span * 0.15 : Math.Max(Math.Abs(low) * 0.05, 0.5);
            return (low - pad, high + pad);
        }
    }

    /// <summary>Draws and writes a plot into <paramref name="folder"/>; adds its name to <paramref name="written"/>, or
    /// returns why it could not be drawn (a machine without the native Skia libraries, say), so that the figures are
    /// reported all the same.</summary>
    public static string? TrySave(string folder, string fileName, Func<IReadOnlyList<Plot>> panels, List<string> written, int columns = 1, int width = 640, int height = 440)
    {
        try
        {
            Save(Path.Combine(folder, fileName), panels(), columns, width, height);
            written.Add(fileName);
            return null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException or InvalidOperationException or IOException or EntryPointNotFoundException)
        {
            return $"{fileName} could not be drawn: {ex.GetType().Name}: {ex.Message}";
        }
    }

    /// <summary>Writes <paramref name="panels"/> as one PNG, <paramref name="columns"/> to a row.</summary>
    public static void Save(string path, IReadOnlyList<Plot> panels, int columns = 1, int width = 640, int height = 440)
    {
        var rows = (panels.Count + columns - 1) / columns;
        using var surface = SKSurface.Create(new SKImageInfo(columns * width, rows * height))
            ?? throw new InvalidOperationException($"SkiaSharp could not make a {columns * width}x{rows * height} surface.");
        surface.Canvas.Clear(SKColors.White);
        for (var i = 0; i < panels.Count; i++)
        {
            using var panel = SKImage.FromEncodedData(panels[i].GetImage(width, height).GetImageBytes(ImageFormat.Png));
            surface.Canvas.DrawImage(panel, i % columns * width, i / columns * height, new SKSamplingOptions(SKFilterMode.Linear));
        }

        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, png.ToArray());
    }

    private static double Axis(double value, bool log) => log ? Math.Log10(value) : value;

    /// <summary>Ticks at 1, 2 and 5 of each decade between <paramref name="min"/> and <paramref name="max"/>, minor ticks
    /// at the other digits, for an axis that holds log10 values.</summary>
    private static NumericManual LogTicks(double min, double max)
    {
        var ticks = new NumericManual();
        for (var decade = (int)Math.Floor(Math.Log10(min)) - 1; decade <= (int)Math.Ceiling(Math.Log10(max)); decade++)
        {
            for (var digit = 1; digit <= 9; digit++)
            {
                var value = digit * Math.Pow(10, decade);
                if (value < min / 1.5 || value > max * 1.5)
                {
                    continue;
                }

                if (digit is 1 or 2 or 5)
                {
                    ticks.AddMajor(Math.Log10(value), value.ToString(value < 1 ? "0.0##" : "0", C));
                }
                else
                {
                    ticks.AddMinor(Math.Log10(value));
                }
            }
        }

        return ticks;
    }

    private static void Label(Plot plot, string title, string xLabel, string yLabel)
    {
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
    }
}
