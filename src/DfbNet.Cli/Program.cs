using System.CommandLine;
using DfbNet.Cli.Commands;

var root = new RootCommand("dfbnet: build, inspect and call DFB-Net early-exit models.")
{
    SynthCommand.Create(),
    ClassifyCommand.Create(),
    StreamCommand.Create(),
    TrainCommand.Create(),
    ExportCommand.Create(),
    EvalCommand.Create(),
    CalibrateCommand.Create(),
};

return await root.Parse(args).InvokeAsync();
