namespace DfbNet.LoadBench;

/// <summary>Where the repository and the built programs are: the server and <c>dfbnet</c> of a Release build.</summary>
internal sealed record BenchPaths(string Root, string Server, string Cli, string DefaultData, string Model)
{
    private const string BuildFolder = "bin/Release/net10.0/linux-x64";

    /// <summary>The repository above <paramref name="start"/> (the folder holding DfbNet.sln), with its built programs;
    /// null and a one-line <paramref name="error"/> when something is missing.</summary>
    public static BenchPaths? Find(string start, out string? error)
    {
        var root = Up(start) ?? Up(AppContext.BaseDirectory);
        if (root is null)
        {
            error = $"no DfbNet.sln above '{start}': run the benchmark from the repository.";
            return null;
        }

        var paths = new BenchPaths(
            root,
            Path.Combine(root, "src/DfbNet.Server", BuildFolder, "dfbnet-server"),
            Path.Combine(root, "src/DfbNet.Cli", BuildFolder, "dfbnet"),
            Path.Combine(root, "tests/data/cifar10-test-200.bin"),
            Path.Combine(root, "models/default"));
        error = new[] { paths.Server, paths.Cli }.FirstOrDefault(p => !File.Exists(p)) is { } missing
            ? $"'{Path.GetRelativePath(root, missing)}' is missing: build first with 'dotnet build DfbNet.sln -c Release'."
            : !File.Exists(Path.Combine(paths.Model, "manifest.json")) ? $"'{Path.GetRelativePath(root, paths.Model)}' holds no manifest.json."
            : null;
        return error is null ? paths : null;

        static string? Up(string from)
        {
            for (var dir = new DirectoryInfo(from); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "DfbNet.sln")))
                {
                    return dir.FullName;
                }
            }

            return null;
        }
    }
}
