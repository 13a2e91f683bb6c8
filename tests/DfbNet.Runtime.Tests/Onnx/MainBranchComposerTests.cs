using DfbNet.Core;
using DfbNet.Core.Manifest;
using DfbNet.Core.Onnx;
using DfbNet.Runtime.Preprocessing;
using Google.Protobuf;

namespace DfbNet.Runtime.Tests.Onnx;

public sealed class MainBranchComposerTests : IDisposable
{
    private readonly TestModelFolder _model = new();

    public void Dispose() => _model.Dispose();

    [Fact]
    public async Task ComposedMainBranch_GivesTheLastExitsLogits_WithoutTheSideBranches()
    {
        var manifest = ManifestLoader.LoadFolder(_model.Path);
        var main = MainBranchComposer.Compose(_model.Path, manifest);

        Assert.Equal(MainBranchComposer.InputName, Assert.Single(main.Graph.Input).Name);
        Assert.Equal(MainBranchComposer.LogitsName, Assert.Single(main.Graph.Output).Name);

        // Side branches are gone: one Gemm (the main exit) and no AveragePool (only the side heads use it).
        Assert.Equal(1, main.Graph.Node.Count(n => n.OpType == "Gemm"));
        Assert.DoesNotContain(main.Graph.Node, n => n.OpType == "AveragePool");
        var stageParameters = manifest.Stages.Sum(s => s.Parameters);
        var mainParameters = main.Graph.Initializer.Sum(i => i.Dims.Aggregate(1L, (a, d) => a * d));
        Assert.True(mainParameters < stageParameters);

        using var engine = EarlyExitEngine.Load(_model.Path, new EngineOptions { WarmupRuns = 0 });
        var bytes = main.ToByteArray();
        for (var i = 0; i < 5; i++)
        {
            var input = new float[3 * 32 * 32];
            engine.Preprocessor.Process(ImageSource.Raw(CifarSlice.Hwc(i), 32, 32), input);
            var logits = OrtTestRunner.Run(bytes, (MainBranchComposer.InputName, new TensorData(input, [1, 3, 32, 32])))[MainBranchComposer.LogitsName].Data;
            var expected = new float[10];
            ExitPolicy.Softmax(logits, expected);

            ExitEvent? last = null;
            await foreach (var e in engine.ClassifyAsync(new FrameRequest("m", ImageSource.Raw(CifarSlice.Hwc(i), 32, 32), new ExitPolicy([1f, 1f, 1f]), InferenceMode.Full, null, 0)))
            {
                if (e.Exit == 3)
                {
                    last = e;
                }
            }

            OrtTestRunner.AssertClose(expected, last!.Prediction!.Probabilities, 1e-6f);
        }
    }
}
