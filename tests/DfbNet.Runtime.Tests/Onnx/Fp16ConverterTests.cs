using DfbNet.Core;
using DfbNet.Core.Manifest;
using DfbNet.Core.Onnx;
using DfbNet.Core.Onnx.Proto;
using DfbNet.Runtime.Preprocessing;

namespace DfbNet.Runtime.Tests.Onnx;

public sealed class Fp16ConverterTests : IDisposable
{
    private readonly TestModelFolder _fp32 = new();
    private readonly TestModelFolder _fp16 = new();

    public void Dispose()
    {
        _fp32.Dispose();
        _fp16.Dispose();
    }

    [Fact]
    public async Task Fp16Stages_KeepFloatInterfaces_AndStayCloseToFp32()
    {
        var manifest = ManifestLoader.LoadFolder(_fp16.Path);
        Fp16Converter.ConvertFolder(_fp16.Path, manifest);

        var stage1 = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(_fp16.Path, "stage1.onnx")));
        Assert.All(stage1.Graph.Initializer, t => Assert.Equal(10, t.DataType));
        Assert.All(stage1.Graph.Input.Concat(stage1.Graph.Output), v => Assert.Equal(1, v.Type.TensorType.ElemType));
        Assert.True(new FileInfo(Path.Combine(_fp16.Path, "stage3.onnx")).Length < 0.6 * new FileInfo(Path.Combine(_fp32.Path, "stage3.onnx")).Length);

        using var full = EarlyExitEngine.Load(_fp32.Path, new EngineOptions { WarmupRuns = 0 });
        using var half = EarlyExitEngine.Load(_fp16.Path, new EngineOptions { WarmupRuns = 0 });
        var policy = new ExitPolicy([1f, 1f, 1f]);
        var worst = 0f;
        for (var i = 0; i < 10; i++)
        {
            var image = ImageSource.Raw(CifarSlice.Hwc(i), 32, 32);
            var a = new List<ExitEvent>();
            var b = new List<ExitEvent>();
            await foreach (var e in full.ClassifyAsync(new FrameRequest("a", image, policy, InferenceMode.Full, null, 0)))
            {
                a.Add(e);
            }

            await foreach (var e in half.ClassifyAsync(new FrameRequest("b", image, policy, InferenceMode.Full, null, 0)))
            {
                b.Add(e);
            }

            for (var k = 0; k < a.Count; k++)
            {
                worst = Math.Max(worst, a[k].Prediction!.Probabilities.Zip(b[k].Prediction!.Probabilities, (x, y) => Math.Abs(x - y)).Max());
            }
        }

        // Same model at half precision: probabilities move in the third decimal, not more.
        Assert.InRange(worst, 0f, 0.02f);
    }
}
