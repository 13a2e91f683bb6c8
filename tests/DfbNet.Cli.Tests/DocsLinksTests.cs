using System.Text.RegularExpressions;
using DfbNet.Testing;

namespace DfbNet.Cli.Tests;

/// <summary>The docs stand on their own: no README or docs page points outside the repository, and every relative link
/// names a file or folder the repository has.</summary>
public sealed partial class DocsLinksTests
{
    [GeneratedRegex(@"\]\((?<target>[^)\s]+)\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"```.*?```", RegexOptions.Singleline)]
    private static partial Regex FencedBlock();

    [GeneratedRegex(@"(\.\./shared|\.\./paper|/work/|\.\./\.\./\.\.)")]
    private static partial Regex OutsidePath();

    public static TheoryData<string> Pages()
    {
        var root = RepositoryRoot.Path;
        var pages = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal))
        {
            pages.Add(Path.GetRelativePath(root, file));
        }

        foreach (var file in new[] { "README.md", "clients/typescript/README.md", "deploy/gpu-bundle/README.md" })
        {
            pages.Add(file);
        }

        return pages;
    }

    [Theory]
    [MemberData(nameof(Pages))]
    public void Page_PointsNowhereOutsideTheRepository_AndItsRelativeLinksExist(string page)
    {
        var root = RepositoryRoot.Path;
        var path = Path.Combine(root, page);
        var text = File.ReadAllText(path);
        var outside = text.Split('\n').Select((line, i) => (line, i)).Where(l => OutsidePath().IsMatch(l.line)).Select(l => $"line {l.i + 1}: {l.line.Trim()}").ToList();
        Assert.True(outside.Count == 0, $"{page} points outside the repository:\n{string.Join('\n', outside)}");

        // Links outside code: a fenced block's brackets are code, not links.
        var prose = FencedBlock().Replace(text, "");
        foreach (Match link in MarkdownLink().Matches(prose))
        {
            var target = link.Groups["target"].Value.Split('#')[0];
            if (target.Length == 0 || target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal))
            {
                continue;
            }

            var resolved = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, target));
            Assert.True(resolved.StartsWith(root, StringComparison.Ordinal), $"{page} links to {target}, outside the repository");
            Assert.True(File.Exists(resolved) || Directory.Exists(resolved), $"{page} links to {target}, which does not exist");
        }
    }
}
