using System.CommandLine;
using System.CommandLine.Parsing;

namespace DfbNet.Cli;

/// <summary>The one line a usage mistake gets: System.CommandLine's first parse error, or a token that looks like an
/// option where the command takes paths (System.CommandLine reads an unknown <c>--flag</c> as an argument there).</summary>
internal static class CommandLineErrors
{
    public static string? Describe(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        var name = command is RootCommand ? "dfbnet" : $"dfbnet {command.Name}";
        if (parse.Action is System.CommandLine.Help.HelpAction)
        {
            return null;
        }

        if (parse.Errors.Count > 0)
        {
            return $"{name}: {parse.Errors[0].Message.TrimEnd('.')}. See '{name} --help'.";
        }

        foreach (var argument in parse.CommandResult.Children.OfType<ArgumentResult>())
        {
            foreach (var token in argument.Tokens)
            {
                // "-" alone is stdin, a path; "--x" or "-x" is an option this command does not have.
                if (token.Value.Length > 1 && token.Value[0] == '-' && !File.Exists(token.Value) && !Directory.Exists(token.Value))
                {
                    return $"{name}: unknown option '{token.Value}'. See '{name} --help'.";
                }
            }
        }

        return null;
    }
}
