namespace DfbNet.Cli.Load;

/// <summary>A model's stage runs by batch size so far, wherever it runs (a server's statistics, an in-process engine's),
/// so that a run can say how well the frames were batched.</summary>
internal interface IBatchStatistics
{
    /// <summary>Stage runs by batch size so far; null when they cannot be read.</summary>
    Task<Dictionary<long, long>?> ReadAsync(CancellationToken cancellationToken);

    /// <summary>What ran between two readings.</summary>
    static ServerBatches? Difference(Dictionary<long, long>? before, Dictionary<long, long>? after)
    {
        if (before is null || after is null)
        {
            return null;
        }

        var runs = new SortedDictionary<long, long>();
        foreach (var (size, count) in after)
        {
            var delta = count - before.GetValueOrDefault(size);
            if (delta > 0)
            {
                runs[size] = delta;
            }
        }

        var total = runs.Values.Sum();
        var frames = runs.Sum(p => p.Key * p.Value);
        return new ServerBatches(total, frames, total == 0 ? 0 : (double)frames / total, runs.ToDictionary(p => p.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), p => p.Value));
    }
}
