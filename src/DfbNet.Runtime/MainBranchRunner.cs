using DfbNet.Core.Manifest;
using DfbNet.Core.Onnx;
using DfbNet.Runtime.ExecutionProviders;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime;

/// <summary>
/// A model's main branch alone (its stages composed into one network without the side branches: the paper's baseline
/// architecture), as one session on the provider chain, captured as a graph where the chain captures graphs. For
/// timing against the early-exit engine in one run on one machine and provider.
/// </summary>
public sealed class MainBranchRunner : IDisposable
{
    private readonly StageSession _session;
    private readonly FixedBindingRun? _graph;
    private readonly RunOptions _runOptions = new();
    private readonly long[] _inputShape;
    private readonly long[] _logitsShape;
    private readonly int _inputLength;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;

    /// <param name="modelFolder">The model folder.</param>
    /// <param name="manifest">Its manifest.</param>
    /// <param name="chain">The providers.</param>
    /// <param name="threads">ONNX Runtime intra-op threads; 0 for its default.</param>
    public MainBranchRunner(string modelFolder, ModelManifest manifest, ExecutionProviderChain chain, int threads)
        : this(MainBranchComposer.Compose(modelFolder, manifest).ToByteArray(), MainBranchComposer.InputName, MainBranchComposer.LogitsName, manifest, chain, threads)
    {
    }

    private MainBranchRunner(byte[] model, string inputName, string logitsName, ModelManifest manifest, ExecutionProviderChain chain, int threads)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(chain);
        _inputShape = [1, 3, manifest.Input.Height, manifest.Input.Width];
        _logitsShape = [1, manifest.Classes.Count];
        _inputLength = 3 * manifest.Input.Height * manifest.Input.Width;
        _inputNames = [inputName];
        _outputNames = [logitsName];

        // The session API loads files: the model goes through a temporary one.
        var path = Path.Combine(Path.GetTempPath(), $"dfbnet-main-{Guid.NewGuid():N}.onnx");
        try
        {
            File.WriteAllBytes(path, model);
            _session = chain.CreateSession(path, o =>
            {
                if (threads > 0)
                {
                    o.IntraOpNumThreads = threads;
                }
            }, NullLogger.Instance);
        }
        finally
        {
            File.Delete(path);
        }

        if (_session.GraphMemory is { } memory && _session.GraphStream is { } stream)
        {
            try
            {
                _graph = new FixedBindingRun(_session, memory, stream, inputName, _inputShape, logitsName, _logitsShape);
            }
            catch (GraphCaptureException ex)
            {
                // Timed as it runs, and said so in Provider.
                CaptureRefusal = ex.Message;
            }
        }
    }

    /// <summary>The model's baseline trained alone (manifest <c>baseline</c>), run the same way; null when it has none.</summary>
    public static MainBranchRunner? ForBaseline(string modelFolder, ModelManifest manifest, ExecutionProviderChain chain, int threads)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return manifest.Baseline is { } baseline
            ? new MainBranchRunner(File.ReadAllBytes(Path.Combine(modelFolder, baseline.File)), baseline.Input, baseline.LogitsOutput, manifest, chain, threads)
            : null;
    }

    /// <summary>The provider it runs on, and whether it replays a captured graph.</summary>
    public string Provider => _session.Provider + (_graph is null ? "" : " with a captured graph");

    /// <summary>Why a graph could not be captured where the chain captures graphs; null otherwise.</summary>
    public string? CaptureRefusal { get; }

    /// <summary>Runs one preprocessed image (3 x H x W floats) and writes its K logits; allocates nothing, so that it
    /// times as fairly as the engine's path.</summary>
    public void Run(Memory<float> input, Memory<float> logits)
    {
        if (_graph is not null)
        {
            _graph.RunBatch(input.Span[.._inputLength], default, 1, logits.Span, default);
            return;
        }

        using var inputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, input[.._inputLength], _inputShape);
        using var outputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, logits[..(int)_logitsShape[1]], _logitsShape);
        _session.Run(_runOptions, _inputNames, [inputValue], _outputNames, [outputValue]);
    }

    public void Dispose()
    {
        _runOptions.Dispose();
        _graph?.Dispose();
        _session.Dispose();
    }
}
