using DfbNet.Core.Manifest;
using DfbNet.Core.Onnx;
using DfbNet.Core.Onnx.Proto;
using Google.Protobuf;

namespace DfbNet.Cli.Tests;

/// <summary>
/// A tiny synthetic DFB-Net written twice: as the project writes it (<see cref="Reference"/>, the model folder the
/// import is compared with), and as stage files of another framework's export would come (<see cref="Stages"/>):
/// every stage reads <c>input.1</c> and returns <c>logits</c> and <c>feat</c>, as <c>torch.onnx.export</c> with the
/// same names for each stage writes them, and the last returns <c>191</c> through a <c>Concat</c> whose <c>axis</c> is 0
/// (a value a proto3 round trip would drop). <see cref="Baseline"/> is the main branch alone, image to logits.
/// </summary>
internal sealed class ForeignModel : IDisposable
{
    public const string InputName = "input.1";
    public const string LogitsName = "logits";
    public const string FeatureName = "feat";
    public const string LastLogitsName = "191";

    public ForeignModel()
    {
        Reference = System.IO.Path.Combine(Root, "reference");
        SyntheticModelFolder.Write(Reference, new SyntheticDfbNetOptions { InputSize = 32, Seed = 7 });
        Manifest = ManifestLoader.LoadFolder(Reference);
        Directory.CreateDirectory(Export);

        var stages = new List<string>();
        for (var s = 0; s < Manifest.Stages.Count; s++)
        {
            var path = Path($"part{s + 1}.onnx");
            File.WriteAllBytes(path, Foreign(ReferenceStage(s), Manifest.Stages[s], s == Manifest.Stages.Count - 1).ToByteArray());
            stages.Add(path);
        }

        Stages = stages;
        var baseline = MainBranchComposer.Compose(Reference, Manifest);
        OnnxValueRenamer.Rename(baseline.Graph, new Dictionary<string, string> { [MainBranchComposer.InputName] = InputName, [MainBranchComposer.LogitsName] = "output" });
        Baseline = Path("whole.onnx");
        File.WriteAllBytes(Baseline, baseline.ToByteArray());
    }

    public string Root { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dfbnet-import-" + Guid.NewGuid().ToString("N"));

    /// <summary>The model folder as the project writes it.</summary>
    public string Reference { get; }

    public ModelManifest Manifest { get; }

    /// <summary>The foreign stage files, in order.</summary>
    public IReadOnlyList<string> Stages { get; }

    /// <summary>The main branch alone, reading <c>input.1</c> and returning <c>output</c>.</summary>
    public string Baseline { get; }

    private string Export => System.IO.Path.Combine(Root, "export");

    /// <summary>A file name in the folder of the foreign files.</summary>
    public string Path(string name) => System.IO.Path.Combine(Export, name);

    public ModelProto ReferenceStage(int s) => ModelProto.Parser.ParseFrom(File.ReadAllBytes(System.IO.Path.Combine(Reference, Manifest.Stages[s].File)));

    /// <summary>Writes stage 1 with a second output of the feature's shape (<c>feat_copy</c>), so that shapes cannot tell
    /// which output the next stage takes.</summary>
    public string WriteStage1WithTwoFeatures()
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Stages[0]));
        var graph = model.Graph;
        var copy = graph.Output.Single(o => o.Name == FeatureName).Clone();
        copy.Name = "feat_copy";
        graph.Output.Add(copy);
        graph.Node.Add(new NodeProto { OpType = "Identity", Name = "copy", Input = { FeatureName }, Output = { copy.Name } });
        var path = Path("part1-two-features.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    /// <summary>A one-stage classifier of 10 classes reading <c>[N, channels, height, width]</c>.</summary>
    public string WriteOneStage(string name, long channels, long height, long width)
    {
        var builder = new OnnxGraphBuilder("one_stage");
        var x = builder.AddInput(InputName, -1, channels, height, width);
        var flat = builder.Flatten(builder.GlobalAveragePool(x), axis: 1);
        var weight = builder.AddInitializer("fc.weight", new float[10 * channels], 10, channels);
        var bias = builder.AddInitializer("fc.bias", new float[10], 10);
        builder.Gemm(flat, weight, bias, transB: true, name: LogitsName);
        builder.AddOutput(LogitsName, -1, 10);
        var path = Path(name);
        builder.Save(path);
        return path;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);

    private static ModelProto Foreign(ModelProto stage, StageSpec spec, bool last)
    {
        var graph = stage.Graph;
        var names = new Dictionary<string, string> { [spec.Input] = InputName, [spec.LogitsOutput] = last ? "onnx::Concat_190" : LogitsName };
        if (spec.FeatureOutput is { } feature)
        {
            names[feature] = FeatureName;
        }

        OnnxValueRenamer.Rename(graph, names);
        if (last)
        {
            graph.Output.Single(o => o.Name == "onnx::Concat_190").Name = LastLogitsName;
            graph.Node.Add(new NodeProto
            {
                OpType = "Concat",
                Name = "/Concat",
                Input = { "onnx::Concat_190" },
                Output = { LastLogitsName },
                Attribute = { new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 0 } },
            });
        }

        return stage;
    }
}
