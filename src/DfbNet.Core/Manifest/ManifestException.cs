namespace DfbNet.Core.Manifest;

/// <summary>A manifest that cannot be served. <see cref="Field"/> names the offending field as a JSON path.</summary>
public sealed class ManifestException : Exception
{
    public ManifestException(string path, string field, string problem, Exception? inner = null)
        : base($"{path}: {field}: {problem}", inner)
    {
        ManifestPath = path;
        Field = field;
        Problem = problem;
    }

    public string ManifestPath { get; }

    public string Field { get; }

    public string Problem { get; }
}
