namespace DfbNet.Server.Internal;

/// <summary>
/// Finds the model root. An absolute path is taken as is. A relative one is tried against the content root, the
/// working directory and their parents, so that <c>dotnet run --project src/DfbNet.Server</c> from the repository
/// finds the repository's <c>models/</c>.
/// </summary>
internal static class ModelRootLocator
{
    public static string Resolve(string configured, string contentRoot)
    {
        if (Path.IsPathRooted(configured))
        {
            return Directory.Exists(configured)
                ? configured
                : throw new InvalidOperationException($"DfbNet:ModelRoot '{configured}' does not exist.");
        }

        var tried = new List<string>();
        foreach (var start in new[] { Directory.GetCurrentDirectory(), contentRoot, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, configured);
                if (Directory.Exists(candidate))
                {
                    return Path.GetFullPath(candidate);
                }

                tried.Add(candidate);
            }
        }

        throw new InvalidOperationException($"DfbNet:ModelRoot '{configured}' was not found (looked in {string.Join(", ", tried.Distinct().Take(6))}, ...). Set DfbNet:ModelRoot to the folder that holds the model folders.");
    }
}
