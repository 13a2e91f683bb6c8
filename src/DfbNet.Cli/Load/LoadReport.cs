using System.Globalization;
using System.Text;
using System.Text.Json;

namespace DfbNet.Cli.Load;

/// <summary>What <c>dfbnet load</c> prints (a short aligned table on stdout) and writes with <c>--json</c>.</summary>
internal static class LoadReport
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static string Table(LoadResult r)
    {
        var s = r.Settings;
        var n = r.Counts;
        var rows = new List<(string, string)>
        {
            ("run", string.Create(C, $"{s.Protocol}, {s.Streams} stream{(s.Streams == 1 ? "" : "s")} x {s.PerStreamFps:0.###} fps = {s.OfferedRate:0.###} frames/s offered, {s.Arrivals} arrivals, {s.DurationSeconds:0.###} s measured after {s.WarmupSeconds:0.###} s warm-up")),
            ("frames", string.Create(C, $"{s.Format} ({s.MeanFrameBytes:0} B mean, {s.Images} images), model {s.Model}, mode {s.Mode}, queue policy {s.QueuePolicy}{(s.AlwaysAnswer ? ", always answer" : "")}")),
            ("counts", string.Create(C, $"{n.Sent} sent of {n.Scheduled} scheduled ({n.Unsent} unsent): {n.Answered} answered, {n.Expired} expired, {n.Refused} refused, {n.Dropped} dropped, {n.Errors} errors")),
            ("check", r.CountsAddUp
                ? string.Create(C, $"counts add up: sent {n.Sent} = answered + expired + refused + dropped + errors, one final event each")
                : string.Create(C, $"COUNTS DO NOT ADD UP: sent {n.Sent}, ended {n.Answered + n.Expired + n.Refused + n.Dropped + n.Errors}; {n.NoFinalEvent} without a final event, {n.DuplicateFinalEvents} extra final events, {n.UnknownEvents} events for frames never sent, {r.StreamFailures.Values.Sum()} streams failed")),
            ("rates", string.Create(C, $"offered {s.OfferedRate:0.0}/s, scheduled {r.Rates.Scheduled:0.0}/s, sent {r.Rates.Sent:0.0}/s, throughput {r.Rates.Throughput:0.0} answers/s")),
            ("refused", string.Join(", ", r.RefusalsByCode.Select(p => $"{p.Key} {p.Value}"))),
        };
        if (r.ErrorsByCode.Count > 0)
        {
            rows.Add(("errors", string.Join(", ", r.ErrorsByCode.Select(p => $"{p.Key} {p.Value}"))));
        }

        if (r.StreamFailures.Count > 0)
        {
            rows.Add(("streams failed", string.Join(", ", r.StreamFailures.Select(p => $"{p.Key} {p.Value}"))));
        }

        rows.Add(("final exit", Ratios(r.FinalExits, n.Answered)));
        if (!r.AnsweredAt.OrderBy(p => p.Key, StringComparer.Ordinal).SequenceEqual(r.FinalExits.OrderBy(p => p.Key, StringComparer.Ordinal)))
        {
            rows.Add(("answered at", Ratios(r.AnsweredAt, n.Answered)));
        }
        rows.Add(("accuracy", r.Accuracy.Rate is { } a ? string.Create(C, $"{100 * a:0.00}% ({r.Accuracy.Correct} of {r.Accuracy.Answered} answered)") : "-"));
        foreach (var b in r.Budgets)
        {
            rows.Add((string.Create(C, $"budget {b.BudgetMs:0.###} ms"), string.Create(C, $"{b.Frames} frames: {Percent(b.HitRateClient)} within it at the client ({Percent(b.HitRateClientSlack)} within it + {BudgetOutcome.ClientSlackMs:0.###} ms), {Percent(b.HitRateServer)} by server time")));
        }

        var cpu = string.Create(C, $"generator {r.ClientCpu.Cores:0.00} cores of {r.ClientCpu.MachineCores} ({Number(r.ClientCpu.MsPerSentFrame)} ms per frame sent)");
        if (r.ServerCpu is { } server)
        {
            cpu += string.Create(C, $"; server {server.Cores:0.00} cores ({Number(server.MsPerAnswer)} ms per answer)");
        }

        rows.Add(("cpu", cpu));
        foreach (var (kind, outcomes) in r.BadInputs.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            rows.Add(($"bad {kind}", string.Join(", ", outcomes.OrderByDescending(p => p.Value).Select(p => string.Create(C, $"{p.Key} {p.Value}")))));
        }

        if (r.ServerMemory is { } memory)
        {
            rows.Add(("server rss", string.Create(C, $"{memory.StartMb:0} MiB after the warm-up, {memory.EndMb:0} MiB at the end ({100 * memory.EndVersusStart:+0.0;-0.0}%), peak {memory.PeakMb:0} MiB ({memory.Samples} readings)")));
        }

        if (r.ServerBatches is { Runs: > 0 } batches)
        {
            var sizes = string.Join(", ", batches.RunsByBatchSize.Select(p => $"{p.Key}: {p.Value}"));
            rows.Add(("batches", string.Create(C, $"mean {batches.MeanBatch:0.00} frames per stage run over {batches.Runs} runs (by size {sizes})")));
        }

        var text = new StringBuilder();
        var width = rows.Max(row => row.Item1.Length) + 2;
        foreach (var (label, value) in rows)
        {
            text.Append((label + ":").PadRight(width)).AppendLine(value);
        }

        text.AppendLine();
        text.Append(Columns(
            ["latency (ms)", "n", "p50", "p90", "p99", "max"],
            [
                Latency("first event", r.FirstEventMs),
                Latency("final event", r.FinalEventMs),
                Latency("server time", r.ServerTimeMs),
                Latency("queue time", r.QueueTimeMs),
                Latency("refusal", r.RefusalMs),
                Latency("write lag", r.WriteLagMs),
            ]));
        foreach (var violation in r.Violations.Take(5))
        {
            text.AppendLine(C, $"violation: {violation}");
        }

        return text.ToString();

        static string[] Latency(string name, LatencySummary l) =>
            [name, l.Count.ToString(C), Number(l.P50), Number(l.P90), Number(l.P99), Number(l.Max)];
    }

    public static string SweepTable(SweepResult sweep)
    {
        var rows = sweep.Steps.Select(r =>
        {
            var budgeted = r.Budgets.Sum(b => b.Frames);
            var hits = r.Budgets.Sum(b => b.HitsClient);
            return new[]
            {
                r.Settings.OfferedRate.ToString("0.0", C),
                r.Rates.Sent.ToString("0.0", C),
                r.Rates.Throughput.ToString("0.0", C),
                Number(r.FinalEventMs.P50),
                Number(r.FinalEventMs.P99),
                r.Counts.Refused.ToString(C),
                r.Counts.Dropped.ToString(C),
                budgeted == 0 ? "-" : Percent((double)hits / budgeted),
                r.CountsAddUp ? "ok" : "VIOLATED",
            };
        }).ToList();
        var text = new StringBuilder(Columns(["OFFERED/S", "SENT/S", "THROUGHPUT/S", "P50_MS", "P99_MS", "REFUSED", "DROPPED", "BUDGET_HIT", "COUNTS"], rows));
        text.AppendLine(sweep.Capacity is { } capacity
            ? string.Create(C, $"capacity: {capacity:0.0} frames/s (the highest offered rate with final-event p99 under {sweep.P99BoundMs:0.###} ms and nothing refused or dropped)")
            : string.Create(C, $"capacity: none of the rates had a final-event p99 under {sweep.P99BoundMs:0.###} ms with nothing refused or dropped"));
        return text.ToString();
    }

    public static async Task WriteJsonAsync(string path, LoadResult result, CancellationToken cancellationToken)
    {
        await using var file = File.Create(path);
        await JsonSerializer.SerializeAsync(file, result, LoadJsonContext.Default.LoadResult, cancellationToken);
    }

    public static async Task WriteJsonAsync(string path, SweepResult result, CancellationToken cancellationToken)
    {
        await using var file = File.Create(path);
        await JsonSerializer.SerializeAsync(file, result, LoadJsonContext.Default.SweepResult, cancellationToken);
    }

    private static string Ratios(IReadOnlyDictionary<string, int> counts, int answered) =>
        answered == 0 ? "-" : string.Join(", ", counts.Select(p => string.Create(C, $"{p.Key} {100.0 * p.Value / answered:0.0}%")));

    private static string Number(double? value) => value is { } v ? v.ToString("0.00", C) : "-";

    private static string Percent(double? rate) => rate is { } r ? (100 * r).ToString("0.0", C) + "%" : "-";

    /// <summary>Rows under a header, each column as wide as its widest cell, two spaces apart.</summary>
    private static string Columns(string[] header, IReadOnlyList<string[]> rows)
    {
        var widths = header.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        var text = new StringBuilder();
        foreach (var row in rows.Prepend(header))
        {
            text.AppendLine(string.Join("  ", row.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
        }

        return text.ToString();
    }
}
