using System.CommandLine;
using DfbNet.Cli.Commands;
using DfbNet.Training.Native;

var root = new RootCommand("dfbnet: build, inspect and call DFB-Net early-exit models.")
{
    SynthCommand.Create(),
    ClassifyCommand.Create(),
    StreamCommand.Create(),
    LoadCommand.Create(),
    TrainCommand.Create(),
    ExportCommand.Create(),
    EvalCommand.Create(),
    CalibrateCommand.Create(),
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
catch (OperationCanceledException)
{
    return 130;
}
catch (Exception ex)
{
    Console.Error.WriteLine($"Unhandled exception: {ex}");
    return 1;
}
