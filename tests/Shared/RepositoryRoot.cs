namespace DfbNet.Testing;

/// <summary>The repository's folder, found from the test assembly's folder upwards (the one holding DfbNet.sln).</summary>
internal static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "DfbNet.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (DfbNet.sln) is not above " + AppContext.BaseDirectory);
    }
}
