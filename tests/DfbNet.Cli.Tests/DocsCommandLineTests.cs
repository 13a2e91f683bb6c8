using System.Text;
using System.Text.RegularExpressions;
using DfbNet.Testing;

namespace DfbNet.Cli.Tests;

/// <summary>Every <c>dfbnet</c> command shown in a README or docs page parses with the CLI's own command tree: no
/// command, option or value that the CLI does not have (docs/CLI.md's quick start also runs, in
/// <see cref="DocsCommandTests"/>; the long ones, training and benchmarks, are parsed only).</summary>
public sealed partial class DocsCommandLineTests
{
    [GeneratedRegex(@"```[a-z]*\n(?<body>.*?)```", RegexOptions.Singleline)]
    private static partial Regex FencedBlock();

    public static TheoryData<string> Pages() => DocsLinksTests.Pages();

    [Theory]
    [MemberData(nameof(Pages))]
    public void EveryDfbnetCommandOnThePage_ParsesWithTheCli(string page)
    {
        var text = File.ReadAllText(Path.Combine(RepositoryRoot.Path, page));
        var root = CliCommands.CreateRoot();
        var problems = new List<string>();
        foreach (var command in Commands(text))
        {
            var parse = root.Parse(command.Skip(1).ToArray());
            if (CommandLineErrors.Describe(parse) is { } error)
            {
                problems.Add($"{string.Join(' ', command)}\n  -> {error}");
            }
        }

        Assert.True(problems.Count == 0, $"{page}:\n{string.Join('\n', problems)}");
    }

    [Fact]
    public void TheCheck_FindsTheDocumentedCommands_AndFailsOnAnUnknownOption()
    {
        var all = new List<string[]>();
        foreach (string page in DocsLinksTests.Pages())
        {
            all.AddRange(Commands(File.ReadAllText(Path.Combine(RepositoryRoot.Path, page))));
        }

        Assert.True(all.Count >= 30, $"only {all.Count} dfbnet commands found in the docs");
        foreach (var verb in new[] { "train", "export", "eval", "calibrate", "classify", "stream", "load", "import" })
        {
            Assert.Contains(all, c => c[1] == verb);
        }

        var bad = Assert.Single(Commands("```bash\ndfbnet eval --model models/default \\\n  --jsno out.json   # a typo\n```\n"));
        Assert.Equal(["dfbnet", "eval", "--model", "models/default", "--jsno", "out.json"], bad);
        Assert.NotNull(CommandLineErrors.Describe(CliCommands.CreateRoot().Parse(bad.Skip(1).ToArray())));
    }

    /// <summary>The <c>dfbnet</c> commands of a page's fenced blocks: continuation lines joined, a prompt's <c>$ </c>
    /// and a trailing comment dropped, each part of a <c>&amp;&amp;</c>, <c>;</c> or <c>|</c> chain on its own, as words.</summary>
    private static IEnumerable<string[]> Commands(string markdown)
    {
        foreach (Match block in FencedBlock().Matches(markdown))
        {
            var lines = block.Groups["body"].Value.Replace("\\\n", " ", StringComparison.Ordinal).Split('\n');
            foreach (var line in lines)
            {
                var trimmed = line.Trim();
                if (trimmed.StartsWith("$ ", StringComparison.Ordinal))
                {
                    trimmed = trimmed[2..];
                }

                foreach (var part in SplitChain(trimmed))
                {
                    var words = Words(part);
                    // "dfbnet import: ..." is the CLI's output shown on the page, not a command.
                    if (words.Count >= 2 && words[0] == "dfbnet" && !words[1].EndsWith(':'))
                    {
                        yield return [.. words];
                    }
                }
            }
        }
    }

    /// <summary>Splits on &amp;&amp;, ; and | outside quotes, and stops at a # comment outside quotes.</summary>
    private static List<string> SplitChain(string line)
    {
        var parts = new List<string>();
        var current = new StringBuilder();
        var quote = '\0';
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quote != '\0')
            {
                quote = c == quote ? '\0' : quote;
                current.Append(c);
            }
            else if (c is '"' or '\'')
            {
                quote = c;
                current.Append(c);
            }
            else if (c == '#' && (i == 0 || char.IsWhiteSpace(line[i - 1])))
            {
                break;
            }
            else if (c is ';' or '|' or '&')
            {
                parts.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        parts.Add(current.ToString());
        return parts;
    }

    /// <summary>Shell words: whitespace separated, quotes removed.</summary>
    private static List<string> Words(string part)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        var quote = '\0';
        var inWord = false;
        foreach (var c in part)
        {
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c is '"' or '\'')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else
            {
                current.Append(c);
                inWord = true;
            }
        }

        if (inWord)
        {
            words.Add(current.ToString());
        }

        return words;
    }
}
