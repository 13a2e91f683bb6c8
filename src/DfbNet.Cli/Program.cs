using System.CommandLine;
using DfbNet.Cli;
using DfbNet.Training.Data;
#if !DFBNET_CLIENT_TOOL
using DfbNet.Training.Native;
#endif

var root = CliCommands.CreateRoot();
var parse = root.Parse(args);

// Usage mistakes (a missing or unknown option, a bad value, a flag where a path goes) are one line and exit code 2, as
// docs/CLI.md says; --help still shows the command's help.
if (CommandLineErrors.Describe(parse) is { } usage)
{
    Console.Error.WriteLine(usage);
    return 2;
}

try
{
    // Known environment problems get a message and an exit code of their own; anything else is a bug and is reported
    // with its stack trace, as System.CommandLine's default handler would.
    // Ctrl+C cancels the command's token; it then has a few seconds to say what it did (a stream's summary) before the process ends.
    return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = TimeSpan.FromSeconds(5) });
}
#if !DFBNET_CLIENT_TOOL
catch (LibTorchUnavailableException ex)
{
    Console.Error.WriteLine($"dfbnet: {ex.Message} Training, export and synth --preset need TorchSharp; see docs/TRAINING.md.");
    return 3;
}
#endif
catch (DatasetException ex)
{
    // A --data folder or file that cannot be read: the message names it and says what was expected.
    Console.Error.WriteLine($"dfbnet: {ex.Message}");
    return 2;
}
catch (DfbNet.Core.Manifest.ManifestException ex)
{
    // A --model folder that is not a model (no manifest, a bad field): the message names the file and the field.
    Console.Error.WriteLine($"dfbnet {parse.CommandResult.Command.Name}: {ex.Message}");
    return 2;
}
catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
{
    // A path the user gave that is not there (a --checkpoint folder without its checkpoint, say).
    Console.Error.WriteLine($"dfbnet {parse.CommandResult.Command.Name}: {ex.Message}");
    return 2;
}
catch (OperationCanceledException)
{
    return 130;
}
catch (Exception ex)
{
    Console.Error.WriteLine($"Unhandled exception: {ex}");
    return 1;
}
