using System.Globalization;
using DfbNet.Core.Manifest;

namespace DfbNet.Server.Internal;

/// <summary>One version of a model on disk: <c>ROOT/NAME/manifest.json</c> is version 1, <c>ROOT/NAME/V/manifest.json</c>
/// (V a positive integer) is version V.</summary>
/// <param name="Stamp">The folder's files' latest write time and count: a reload is due when it changes.</param>
internal sealed record ModelVersionFolder(string Name, long Version, string Folder, string Stamp)
{
    public string VersionText => Version.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Reads the model repository's layout (Triton's <c>NAME/VERSION/</c>, with today's unversioned folders as version 1).</summary>
internal static class ModelRepositoryFolders
{
    /// <summary>Every model version on disk, by name then version.</summary>
    public static IReadOnlyList<ModelVersionFolder> Scan(string root)
    {
        var found = new List<ModelVersionFolder>();
        foreach (var model in Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(model);
            if (name.StartsWith('.'))
            {
                continue;
            }

            found.AddRange(ScanModel(model, name));
        }

        return [.. found.OrderBy(f => f.Name, StringComparer.Ordinal).ThenBy(f => f.Version)];
    }

    /// <summary>The versions of one model folder served as <paramref name="name"/>: the folder itself (version 1) when it
    /// holds a manifest, else its version folders.</summary>
    public static IReadOnlyList<ModelVersionFolder> ScanModel(string model, string name)
    {
        if (File.Exists(Path.Combine(model, ModelManifest.FileName)))
        {
            return [new ModelVersionFolder(name, 1, model, Stamp(model))];
        }

        var found = new List<ModelVersionFolder>();
        foreach (var folder in Directory.EnumerateDirectories(model))
        {
            if (TryParseVersion(Path.GetFileName(folder), out var version)
                && File.Exists(Path.Combine(folder, ModelManifest.FileName)))
            {
                found.Add(new ModelVersionFolder(name, version, folder, Stamp(folder)));
            }
        }

        return [.. found.OrderBy(f => f.Version)];
    }

    /// <summary>A version folder's name: a positive integer, digits only. The repository APIs' version parameter follows the
    /// same rule, so a client asks for a version by its folder's name.</summary>
    public static bool TryParseVersion(string? name, out long version) =>
        long.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out version) && version > 0;

    /// <summary>The highest version of each model.</summary>
    public static IEnumerable<ModelVersionFolder> Latest(IEnumerable<ModelVersionFolder> folders) =>
        folders.GroupBy(f => f.Name, StringComparer.Ordinal).Select(g => g.MaxBy(f => f.Version)!);

    private static string Stamp(string folder)
    {
        var files = new DirectoryInfo(folder).EnumerateFiles().ToList();
        var latest = files.Count == 0 ? 0 : files.Max(f => f.LastWriteTimeUtc.Ticks);
        return string.Create(CultureInfo.InvariantCulture, $"{latest}:{files.Count}:{files.Sum(f => f.Length)}");
    }
}
