using System.CommandLine;
using DfbNet.Cli.Commands;
using DfbNet.Training.Data;
using DfbNet.Training.Native;

var root = new RootCommand("dfbnet: build, inspect and call DFB-Net early-exit models.")
{
    SynthCommand.Create(),
    ClassifyCommand.Create(),
    StreamCommand.Create(),
    LoadCommand.Create(),
    ModelsCommand.Create(),
    TrainCommand.Create(),
    ExportCommand.Create(),
    EvalCommand.Create(),
    CalibrateCommand.Create(),
    ImportCommand.Create(),
};

try
{
    // Known environment problems get a message and an exit code of their own; anything else is a bug and is reported
    // with its stack trace, as System.CommandLine's default handler would.
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (LibTorchUnavailableException ex)
{
    Console.Error.WriteLine($"dfbnet: {ex.Message} Training, export and synth --preset need TorchSharp; see docs/TRAINING.md.");
    return 3;
}
catch (DatasetException ex)
{
    // A --data folder or file that cannot be read: the message names it and says what was expected.
    Console.Error.WriteLine($"dfbnet: {ex.Message}");
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
