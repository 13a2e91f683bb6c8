using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using DfbNet.Core;
using DfbNet.Runtime;
using DfbNet.Runtime.Preprocessing;
using Google.Protobuf;
using Grpc.Core;
using Inference = DfbNet.Protocol.Inference;

namespace DfbNet.Server.Internal;

/// <summary>A ModelInferRequest checked and turned into an engine frame, or refused with the status a compliant server uses.</summary>
/// <param name="Model">The lease on the model version that runs the frame; whoever ends the frame disposes it.</param>
internal sealed record OipRequest(ModelLease Model, FrameRequest Frame, IReadOnlyList<OipOutput> Outputs)
{
    public EarlyExitEngine Engine => Model.Engine;

    /// <exception cref="RpcException">NOT_FOUND for an unknown model or version; INVALID_ARGUMENT for a bad input, output or parameter.</exception>
    public static OipRequest Parse(Inference.ModelInferRequest request, ModelRegistry models, DfbNetServerOptions defaults, long receivedTimestamp)
    {
        var model = OipModels.Lease(models, request.ModelName, request.ModelVersion);
        try
        {
            return Parse(request, model, defaults, receivedTimestamp);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static OipRequest Parse(Inference.ModelInferRequest request, ModelLease model, DfbNetServerOptions defaults, long receivedTimestamp)
    {
        var engine = model.Engine;
        var image = ParseInput(request, engine);
        var outputs = ParseOutputs(request, engine);

        var p = request.Parameters;
        InferenceMode? mode = null;
        if (p.TryGetValue(OipTensors.ModeParameter, out var modeValue))
        {
            var text = StringParameter(OipTensors.ModeParameter, modeValue);
            mode = SettingText.TryParseMode(text, out var parsed) ? parsed : throw Invalid($"Parameter 'mode' is '{text}'; expected one of {SettingText.ModeNames}.");
        }

        var preset = p.TryGetValue(OipTensors.PresetParameter, out var presetValue) ? StringParameter(OipTensors.PresetParameter, presetValue) : null;
        float[]? thresholds = null;
        if (p.TryGetValue(OipTensors.ThresholdsParameter, out var thresholdValue))
        {
            if (!SettingText.TryParseThresholds(StringParameter(OipTensors.ThresholdsParameter, thresholdValue), out thresholds, out var problem))
            {
                throw Invalid($"Parameter 'thresholds' {problem}.");
            }
        }

        // Triton's timeout: 0 is none, unset the server's default.
        TimeSpan? budget = null;
        if (p.TryGetValue(OipTensors.TimeoutParameter, out var timeout))
        {
            var us = timeout.ParameterChoiceCase switch
            {
                Inference.InferParameter.ParameterChoiceOneofCase.Int64Param => timeout.Int64Param,
                Inference.InferParameter.ParameterChoiceOneofCase.Uint64Param when timeout.Uint64Param <= long.MaxValue => (long)timeout.Uint64Param,
                _ => throw Invalid("Parameter 'timeout' must be an integer number of microseconds."),
            };
            if (us < 0)
            {
                throw Invalid($"Parameter 'timeout' is {us}; it must not be negative.");
            }

            if (us > (long)ResolvedOptions.MaxBudget.TotalMicroseconds)
            {
                throw Invalid($"Parameter 'timeout' is {us} us; a budget is at most {ResolvedOptions.MaxBudget.TotalMicroseconds:0} us.");
            }

            budget = TimeSpan.FromMicroseconds(us);
        }

        var alwaysAnswer = false;
        if (p.TryGetValue(OipTensors.AlwaysAnswerParameter, out var alwaysValue))
        {
            alwaysAnswer = alwaysValue.ParameterChoiceCase == Inference.InferParameter.ParameterChoiceOneofCase.BoolParam
                ? alwaysValue.BoolParam
                : throw Invalid("Parameter 'always_answer' must be a bool.");
        }

        var settings = RequestResolver.Resolve(engine, new RequestedSettings(mode, string.IsNullOrEmpty(preset) ? null : preset, thresholds, budget, alwaysAnswer), defaults);
        var id = string.IsNullOrEmpty(request.Id) ? "0" : request.Id;
        return new OipRequest(model, settings.Frame(id, image, receivedTimestamp), outputs);
    }

    private static ImageSource ParseInput(Inference.ModelInferRequest request, EarlyExitEngine engine)
    {
        if (request.Inputs.Count != 1)
        {
            throw Invalid($"Expected exactly one input ({OipTensors.Image} BYTES, {OipTensors.Frame} UINT8 or {OipTensors.Tensor} FP32); got {request.Inputs.Count}.");
        }

        var input = request.Inputs[0];
        var raw = request.RawInputContents.Count > 0;
        if (raw && request.RawInputContents.Count != request.Inputs.Count)
        {
            throw Invalid($"raw_input_contents has {request.RawInputContents.Count} entries for {request.Inputs.Count} inputs.");
        }

        if (raw && input.Contents is not null && HasTypedData(input.Contents))
        {
            throw Invalid($"Input '{input.Name}' has both contents and raw_input_contents.");
        }

        var shape = input.Shape;
        switch (input.Name)
        {
            case OipTensors.Image:
            {
                RequireType(input, OipTensors.Bytes);
                if (shape.Count != 1 || shape[0] != 1)
                {
                    throw Invalid($"Input {OipTensors.Image} must have shape [1]; got [{string.Join(", ", shape)}].");
                }

                ReadOnlyMemory<byte> bytes;
                if (raw)
                {
                    // Triton's raw BYTES layout: each element is a 4-byte little-endian length, then the bytes.
                    var content = request.RawInputContents[0].Memory;
                    if (content.Length < 4)
                    {
                        throw Invalid($"Input {OipTensors.Image}: raw BYTES content of {content.Length} bytes has no 4-byte length prefix.");
                    }

                    var length = BinaryPrimitives.ReadUInt32LittleEndian(content.Span);
                    if (length != content.Length - 4)
                    {
                        throw Invalid($"Input {OipTensors.Image}: raw BYTES element says {length} bytes but {content.Length - 4} follow (exactly one element expected).");
                    }

                    bytes = content[4..];
                }
                else
                {
                    var elements = input.Contents?.BytesContents;
                    if (elements is null || elements.Count != 1)
                    {
                        throw Invalid($"Input {OipTensors.Image} needs exactly one element in contents.bytes_contents; got {elements?.Count ?? 0}.");
                    }

                    bytes = elements[0].Memory;
                }

                return ImageSource.Encoded(bytes);
            }

            case OipTensors.Frame:
            {
                RequireType(input, OipTensors.UInt8);
                var dims = shape.Count == 4 && shape[0] == 1 ? shape.Skip(1).ToArray() : shape.ToArray();
                if (dims.Length != 3 || dims[2] != 3 || dims[0] < 1 || dims[1] < 1 || dims[0] > 65535 || dims[1] > 65535)
                {
                    throw Invalid($"Input {OipTensors.Frame} must have shape [H, W, 3] or [1, H, W, 3]; got [{string.Join(", ", shape)}].");
                }

                var expected = dims[0] * dims[1] * 3;
                ReadOnlyMemory<byte> pixels;
                if (raw)
                {
                    pixels = request.RawInputContents[0].Memory;
                }
                else
                {
                    var values = input.Contents?.UintContents;
                    if (values is null || values.Count != expected)
                    {
                        throw Invalid($"Input {OipTensors.Frame} of shape [{string.Join(", ", shape)}] needs {expected} values in contents.uint_contents; got {values?.Count ?? 0}.");
                    }

                    var copy = new byte[expected];
                    for (var i = 0; i < copy.Length; i++)
                    {
                        var v = values[i];
                        if (v > 255)
                        {
                            throw Invalid($"Input {OipTensors.Frame} value {i} is {v}; UINT8 values lie in 0..255.");
                        }

                        copy[i] = (byte)v;
                    }

                    pixels = copy;
                }

                if (pixels.Length != expected)
                {
                    throw Invalid($"Input {OipTensors.Frame} of shape [{string.Join(", ", shape)}] needs {expected} bytes; got {pixels.Length}.");
                }

                return ImageSource.Raw(pixels, (int)dims[0], (int)dims[1]);
            }

            case OipTensors.Tensor:
            {
                RequireType(input, OipTensors.Fp32);
                var h = engine.Manifest.Input.Height;
                var w = engine.Manifest.Input.Width;
                if (shape.Count != 4 || shape[0] != 1 || shape[1] != 3 || shape[2] != h || shape[3] != w)
                {
                    throw Invalid($"Input {OipTensors.Tensor} must have shape [1, 3, {h}, {w}]; got [{string.Join(", ", shape)}].");
                }

                var expected = 3 * h * w;
                ReadOnlyMemory<byte> floats;
                if (raw)
                {
                    floats = request.RawInputContents[0].Memory;
                    if (floats.Length != expected * sizeof(float))
                    {
                        throw Invalid($"Input {OipTensors.Tensor} needs {expected * sizeof(float)} bytes of raw FP32; got {floats.Length}.");
                    }
                }
                else
                {
                    var values = input.Contents?.Fp32Contents;
                    if (values is null || values.Count != expected)
                    {
                        throw Invalid($"Input {OipTensors.Tensor} needs {expected} values in contents.fp32_contents; got {values?.Count ?? 0}.");
                    }

                    var copy = new float[expected];
                    values.CopyTo(copy, 0);
                    floats = MemoryMarshal.AsBytes(copy.AsSpan()).ToArray();
                }

                return ImageSource.Tensor(floats, 3, h, w);
            }

            default:
                throw Invalid($"Unknown input '{input.Name}'; model '{engine.Name}' takes {OipTensors.Image} (BYTES), {OipTensors.Frame} (UINT8) or {OipTensors.Tensor} (FP32).");
        }
    }

    private static List<OipOutput> ParseOutputs(Inference.ModelInferRequest request, EarlyExitEngine engine)
    {
        if (request.Outputs.Count == 0)
        {
            return [new OipOutput(OipTensors.Probabilities, 0)];
        }

        var outputs = new List<OipOutput>();
        foreach (var output in request.Outputs)
        {
            if (output.Name != OipTensors.Probabilities)
            {
                throw Invalid($"Unknown output '{output.Name}'; model '{engine.Name}' produces {OipTensors.Probabilities}.");
            }

            var k = 0;
            if (output.Parameters.TryGetValue(OipTensors.ClassificationParameter, out var classification))
            {
                long value = classification.ParameterChoiceCase switch
                {
                    Inference.InferParameter.ParameterChoiceOneofCase.Int64Param => classification.Int64Param,
                    Inference.InferParameter.ParameterChoiceOneofCase.Uint64Param when classification.Uint64Param <= int.MaxValue => (long)classification.Uint64Param,
                    _ => -1,
                };
                if (value < 1)
                {
                    throw Invalid($"Output parameter 'classification' must be a positive integer; got {classification}.");
                }

                k = (int)Math.Min(value, engine.Classes.Count);
            }

            outputs.Add(new OipOutput(output.Name, k));
        }

        return outputs;
    }

    private static void RequireType(Inference.ModelInferRequest.Types.InferInputTensor input, string datatype)
    {
        if (input.Datatype != datatype)
        {
            throw Invalid($"Input {input.Name} must be {datatype}; got '{input.Datatype}'.");
        }
    }

    private static bool HasTypedData(Inference.InferTensorContents c) =>
        c.BytesContents.Count + c.UintContents.Count + c.Fp32Contents.Count + c.IntContents.Count + c.Int64Contents.Count +
        c.Uint64Contents.Count + c.Fp64Contents.Count + c.BoolContents.Count > 0;

    private static string StringParameter(string name, Inference.InferParameter value) =>
        value.ParameterChoiceCase == Inference.InferParameter.ParameterChoiceOneofCase.StringParam
            ? value.StringParam
            : throw Invalid($"Parameter '{name}' must be a string.");

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}

/// <summary>A requested output; <paramref name="Classification"/> &gt; 0 asks for the top k as "score:index:label" strings.</summary>
internal sealed record OipOutput(string Name, int Classification);

/// <summary>Model and version look-up with the protocol's status codes.</summary>
internal static class OipModels
{
    /// <summary>The served engine of a model, for a look at it (metadata, statistics).</summary>
    /// <exception cref="RpcException">INVALID_ARGUMENT for no name; NOT_FOUND for a model or version not served.</exception>
    public static EarlyExitEngine Find(ModelRegistry models, string name, string version)
    {
        RequireName(name);
        var engine = models.GetOrThrow(name);
        CheckVersion(name, version, models.VersionOf(name));
        return engine;
    }

    /// <summary>A lease on the served version of a model, for a frame.</summary>
    /// <exception cref="RpcException">INVALID_ARGUMENT for no name; NOT_FOUND for a model or version not served.</exception>
    public static ModelLease Lease(ModelRegistry models, string name, string version)
    {
        RequireName(name);
        var lease = models.Lease(name);
        try
        {
            CheckVersion(name, version, lease.Version);
        }
        catch
        {
            lease.Dispose();
            throw;
        }

        return lease;
    }

    private static void RequireName(string name)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "model_name is empty."));
        }
    }

    private static void CheckVersion(string name, string requested, string? served)
    {
        if (!string.IsNullOrEmpty(requested) && requested != served)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"Model '{name}' version '{requested}' is not served (served: version {served})."));
        }
    }
}
