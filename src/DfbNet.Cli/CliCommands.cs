using System.CommandLine;
using DfbNet.Cli.Commands;

namespace DfbNet.Cli;

/// <summary>The <c>dfbnet</c> command tree: the client commands, and the training commands where TorchSharp is built in.</summary>
internal static class CliCommands
{
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("dfbnet: build, inspect and call DFB-Net early-exit models.")
        {
            ClassifyCommand.Create(),
            StreamCommand.Create(),
            LoadCommand.Create(),
            ModelsCommand.Create(),
            ImportCommand.Create(),
        };

#if !DFBNET_CLIENT_TOOL
        // The training commands need TorchSharp; the DfbNet.Cli tool package (src/DfbNet.Cli.Tool) leaves them out.
        foreach (var command in new[] { SynthCommand.Create(), TrainCommand.Create(), ExportCommand.Create(), EvalCommand.Create(), CalibrateCommand.Create() })
        {
            root.Subcommands.Add(command);
        }
#endif
        return root;
    }
}
