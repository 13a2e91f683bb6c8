using System.Reflection;
using DfbNet.Runtime;
using Inference = DfbNet.Protocol.Inference;

namespace DfbNet.Server.Internal;

/// <summary>The Open Inference Protocol's metadata answers, built once for both transports (gRPC and REST).</summary>
internal static class OipViews
{
    private static readonly string ServerVersion =
        typeof(OipViews).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    public static Inference.ServerMetadataResponse ServerMetadata() => new()
    {
        Name = "dfbnet",
        Version = ServerVersion,
        Extensions = { "classification", "model_configuration", "model_repository", "statistics", "binary_tensor_data" },
    };

    public static Inference.ModelMetadataResponse ModelMetadata(EarlyExitEngine engine, string version)
    {
        var input = engine.Manifest.Input;
        return new Inference.ModelMetadataResponse
        {
            Name = engine.Name,
            Versions = { version },
            Platform = "dfbnet",
            Inputs =
            {
                Tensor(OipTensors.Image, OipTensors.Bytes, 1),
                Tensor(OipTensors.Frame, OipTensors.UInt8, -1, -1, 3),
                Tensor(OipTensors.Tensor, OipTensors.Fp32, 1, 3, input.Height, input.Width),
            },
            Outputs = { Tensor(OipTensors.Probabilities, OipTensors.Fp32, 1, engine.Classes.Count) },
        };
    }

    private static Inference.ModelMetadataResponse.Types.TensorMetadata Tensor(string name, string datatype, params long[] shape) =>
        new() { Name = name, Datatype = datatype, Shape = { shape } };
}
