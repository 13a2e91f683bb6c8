using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Inference = DfbNet.Protocol.Inference;

namespace DfbNet.Server.Internal.Rest;

/// <summary>
/// The Open Inference Protocol's REST/JSON bodies (KServe v2 HTTP), turned into the gRPC messages and back, so that both
/// transports share one parser (<see cref="OipRequest"/>) and one response builder (<see cref="OipResponses"/>).
/// Triton's binary tensor extension is read and written: with an <c>Inference-Header-Content-Length</c> header the body
/// is that many bytes of JSON, then each binary input's bytes (<c>binary_data_size</c>) in order.
/// </summary>
internal static class OipJson
{
    public const string HeaderLength = "Inference-Header-Content-Length";
    private const string BinarySize = "binary_data_size";

    /// <summary>An inference request body as a ModelInferRequest, and whether its outputs are wanted as binary.</summary>
    /// <exception cref="RpcException">INVALID_ARGUMENT naming the field: malformed JSON, a field of the wrong type, data
    /// that does not match its datatype, binary sizes that do not add up.</exception>
    public static (Inference.ModelInferRequest Request, bool[] BinaryOutputs, bool AllBinary) ReadInferRequest(ReadOnlyMemory<byte> body, long? headerLength)
    {
        var (json, binary) = Split(body, headerLength);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            throw Invalid($"The request body is not JSON: {ex.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Invalid("The request body must be a JSON object with \"inputs\".");
            }

            var request = new Inference.ModelInferRequest();
            if (root.TryGetProperty("id", out var id))
            {
                request.Id = id.ValueKind == JsonValueKind.String ? id.GetString()! : throw Invalid("\"id\" must be a string.");
            }

            var allBinary = false;
            if (root.TryGetProperty("parameters", out var parameters))
            {
                foreach (var (name, value) in Parameters(parameters, "parameters"))
                {
                    if (name == "binary_data_output")
                    {
                        allBinary = value.ParameterChoiceCase == Inference.InferParameter.ParameterChoiceOneofCase.BoolParam ? value.BoolParam : throw Invalid("parameters.binary_data_output must be a bool.");
                        continue;
                    }

                    request.Parameters[name] = value;
                }
            }

            if (!root.TryGetProperty("inputs", out var inputs) || inputs.ValueKind != JsonValueKind.Array || inputs.GetArrayLength() == 0)
            {
                throw Invalid("\"inputs\" must be a non-empty array of tensors.");
            }

            var offset = 0;
            var index = 0;
            var binaryInputs = 0;
            foreach (var input in inputs.EnumerateArray())
            {
                var field = $"inputs[{index++}]";
                if (input.ValueKind != JsonValueKind.Object)
                {
                    throw Invalid($"{field} must be an object.");
                }

                var tensor = new Inference.ModelInferRequest.Types.InferInputTensor
                {
                    Name = String(input, "name", field),
                    Datatype = String(input, "datatype", field),
                };
                foreach (var dim in Array(input, "shape", field).EnumerateArray())
                {
                    tensor.Shape.Add(dim.ValueKind == JsonValueKind.Number && dim.TryGetInt64(out var d) ? d : throw Invalid($"{field}.shape must hold integers."));
                }

                long? size = null;
                if (input.TryGetProperty("parameters", out var tensorParameters))
                {
                    foreach (var (name, value) in Parameters(tensorParameters, $"{field}.parameters"))
                    {
                        if (name == BinarySize)
                        {
                            size = value.ParameterChoiceCase == Inference.InferParameter.ParameterChoiceOneofCase.Int64Param && value.Int64Param >= 0 ? value.Int64Param : throw Invalid($"{field}.parameters.{BinarySize} must be a non-negative integer.");
                            continue;
                        }

                        tensor.Parameters[name] = value;
                    }
                }

                if (size is { } n)
                {
                    if (n > binary.Length - offset)
                    {
                        throw Invalid($"{field}.parameters.{BinarySize} is {n}, but only {binary.Length - offset} binary bytes follow the JSON.");
                    }

                    request.RawInputContents.Add(UnsafeByteOperations.UnsafeWrap(binary.Slice(offset, (int)n)));
                    offset += (int)n;
                    binaryInputs++;
                }
                else
                {
                    if (!input.TryGetProperty("data", out var data))
                    {
                        throw Invalid($"{field} has no \"data\" (or parameters.{BinarySize} for binary data).");
                    }

                    tensor.Contents = Contents(tensor.Datatype, data, $"{field}.data");
                }

                request.Inputs.Add(tensor);
            }

            if (binaryInputs > 0 && binaryInputs != request.Inputs.Count)
            {
                throw Invalid($"{binaryInputs} of {request.Inputs.Count} inputs are binary; give every input as binary data or none.");
            }

            if (offset != binary.Length)
            {
                throw Invalid($"{binary.Length - offset} binary bytes after the JSON belong to no input.");
            }

            var binaryOutputs = new List<bool>();
            if (root.TryGetProperty("outputs", out var outputs))
            {
                index = 0;
                foreach (var output in (outputs.ValueKind == JsonValueKind.Array ? outputs : throw Invalid("\"outputs\" must be an array.")).EnumerateArray())
                {
                    var field = $"outputs[{index++}]";
                    var requested = new Inference.ModelInferRequest.Types.InferRequestedOutputTensor { Name = String(output, "name", field) };
                    var binaryOutput = allBinary;
                    if (output.TryGetProperty("parameters", out var outputParameters))
                    {
                        foreach (var (name, value) in Parameters(outputParameters, $"{field}.parameters"))
                        {
                            if (name == "binary_data")
                            {
                                binaryOutput = value.ParameterChoiceCase == Inference.InferParameter.ParameterChoiceOneofCase.BoolParam ? value.BoolParam : throw Invalid($"{field}.parameters.binary_data must be a bool.");
                                continue;
                            }

                            requested.Parameters[name] = value;
                        }
                    }

                    request.Outputs.Add(requested);
                    binaryOutputs.Add(binaryOutput);
                }
            }

            return (request, [.. binaryOutputs], allBinary);
        }
    }

    /// <summary>Writes an inference response: JSON, or with binary outputs the JSON header then their bytes.</summary>
    /// <returns>The JSON part's length when binary data follows it (the <see cref="HeaderLength"/> header), else null.</returns>
    public static int? WriteInferResponse(ArrayBufferWriter<byte> output, Inference.ModelInferResponse response, bool[] binaryOutputs, bool allBinary)
    {
        var binary = new List<ByteString>();
        using (var json = new Utf8JsonWriter(output))
        {
            json.WriteStartObject();
            json.WriteString("model_name", response.ModelName);
            json.WriteString("model_version", response.ModelVersion);
            json.WriteString("id", response.Id);
            WriteParameters(json, response.Parameters);
            json.WriteStartArray("outputs");
            for (var i = 0; i < response.Outputs.Count; i++)
            {
                var tensor = response.Outputs[i];
                var raw = response.RawOutputContents[i];
                json.WriteStartObject();
                json.WriteString("name", tensor.Name);
                json.WriteString("datatype", tensor.Datatype);
                WriteShape(json, tensor.Shape);
                if (i < binaryOutputs.Length ? binaryOutputs[i] : allBinary)
                {
                    json.WriteStartObject("parameters");
                    json.WriteNumber(BinarySize, raw.Length);
                    json.WriteEndObject();
                    binary.Add(raw);
                }
                else
                {
                    json.WriteStartArray("data");
                    WriteData(json, tensor.Datatype, raw.Span);
                    json.WriteEndArray();
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        if (binary.Count == 0)
        {
            return null;
        }

        var headerLength = output.WrittenCount;
        foreach (var bytes in binary)
        {
            output.Write(bytes.Span);
        }

        return headerLength;
    }

    /// <summary>Writes <c>{"error": message}</c>, the protocol's error body.</summary>
    public static void WriteError(ArrayBufferWriter<byte> output, string message)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("error", message);
        json.WriteEndObject();
    }

    public static void WriteServerMetadata(ArrayBufferWriter<byte> output, Inference.ServerMetadataResponse metadata)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("name", metadata.Name);
        json.WriteString("version", metadata.Version);
        WriteStrings(json, "extensions", metadata.Extensions);
        json.WriteEndObject();
    }

    public static void WriteModelMetadata(ArrayBufferWriter<byte> output, Inference.ModelMetadataResponse metadata)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("name", metadata.Name);
        WriteStrings(json, "versions", metadata.Versions);
        json.WriteString("platform", metadata.Platform);
        foreach (var (name, tensors) in new[] { ("inputs", metadata.Inputs), ("outputs", metadata.Outputs) })
        {
            json.WriteStartArray(name);
            foreach (var tensor in tensors)
            {
                json.WriteStartObject();
                json.WriteString("name", tensor.Name);
                json.WriteString("datatype", tensor.Datatype);
                WriteShape(json, tensor.Shape);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
    }

    private static void WriteStrings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }

    private static void WriteShape(Utf8JsonWriter json, IEnumerable<long> shape)
    {
        json.WriteStartArray("shape");
        foreach (var d in shape)
        {
            json.WriteNumberValue(d);
        }

        json.WriteEndArray();
    }

    /// <summary>A small object of named values, for health, readiness and the repository index.</summary>
    public static void WriteObject(ArrayBufferWriter<byte> output, Action<Utf8JsonWriter> body)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        body(json);
        json.WriteEndObject();
    }

    private static (ReadOnlyMemory<byte> Json, ReadOnlyMemory<byte> Binary) Split(ReadOnlyMemory<byte> body, long? headerLength)
    {
        if (headerLength is not { } n)
        {
            return (body, ReadOnlyMemory<byte>.Empty);
        }

        return n >= 0 && n <= body.Length
            ? (body[..(int)n], body[(int)n..])
            : throw Invalid($"{HeaderLength} is {n}, but the body has {body.Length} bytes.");
    }

    private static IEnumerable<(string Name, Inference.InferParameter Value)> Parameters(JsonElement parameters, string field)
    {
        if (parameters.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"{field} must be an object.");
        }

        foreach (var p in parameters.EnumerateObject())
        {
            yield return (p.Name, p.Value.ValueKind switch
            {
                JsonValueKind.String => new Inference.InferParameter { StringParam = p.Value.GetString() },
                JsonValueKind.True or JsonValueKind.False => new Inference.InferParameter { BoolParam = p.Value.GetBoolean() },
                JsonValueKind.Number when p.Value.TryGetInt64(out var i) => new Inference.InferParameter { Int64Param = i },
                JsonValueKind.Number => new Inference.InferParameter { DoubleParam = p.Value.GetDouble() },
                _ => throw Invalid($"{field}.{p.Name} must be a string, a number or a bool."),
            });
        }
    }

    /// <summary>A tensor's data (nested arrays are flattened, in row-major order) as the gRPC contents of its datatype.</summary>
    private static Inference.InferTensorContents Contents(string datatype, JsonElement data, string field)
    {
        var contents = new Inference.InferTensorContents();
        var position = 0;
        foreach (var value in Flatten(data, field))
        {
            var at = $"{field}[{position++}]";
            switch (datatype)
            {
                case "BYTES":
                    // Binary in JSON is base64, as for IMAGE (an encoded image); other strings are their UTF-8 bytes.
                    var text = value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Invalid($"{at} must be a string (BYTES).");
                    contents.BytesContents.Add(ByteString.CopyFrom(Base64OrText(text, at)));
                    break;
                case "BOOL":
                    contents.BoolContents.Add(value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : throw Invalid($"{at} must be a bool (BOOL)."));
                    break;
                case "UINT8" or "UINT16" or "UINT32":
                    contents.UintContents.Add(value.ValueKind == JsonValueKind.Number && value.TryGetUInt32(out var u) ? u : throw Invalid($"{at} must be an unsigned integer ({datatype})."));
                    break;
                case "UINT64":
                    contents.Uint64Contents.Add(value.ValueKind == JsonValueKind.Number && value.TryGetUInt64(out var u64) ? u64 : throw Invalid($"{at} must be an unsigned integer (UINT64)."));
                    break;
                case "INT8" or "INT16" or "INT32":
                    contents.IntContents.Add(value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var i) ? i : throw Invalid($"{at} must be an integer ({datatype})."));
                    break;
                case "INT64":
                    contents.Int64Contents.Add(value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var i64) ? i64 : throw Invalid($"{at} must be an integer (INT64)."));
                    break;
                case "FP32":
                    contents.Fp32Contents.Add(value.ValueKind == JsonValueKind.Number && value.TryGetSingle(out var f) && float.IsFinite(f) ? f : throw Invalid($"{at} must be a finite number (FP32)."));
                    break;
                case "FP64":
                    contents.Fp64Contents.Add(value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var d) && double.IsFinite(d) ? d : throw Invalid($"{at} must be a finite number (FP64)."));
                    break;
                default:
                    throw Invalid($"{field}: datatype '{datatype}' has no JSON form here (BYTES, BOOL, UINT8..UINT64, INT8..INT64, FP32, FP64; FP16 as binary data).");
            }
        }

        return contents;
    }

    private static IEnumerable<JsonElement> Flatten(JsonElement data, string field)
    {
        if (data.ValueKind != JsonValueKind.Array)
        {
            yield return data;
            yield break;
        }

        foreach (var item in data.EnumerateArray())
        {
            foreach (var value in item.ValueKind == JsonValueKind.Array ? Flatten(item, field) : [item])
            {
                yield return value;
            }
        }
    }

    private static byte[] Base64OrText(string text, string field)
    {
        var bytes = new byte[(text.Length * 3 / 4) + 3];
        return Convert.TryFromBase64String(text, bytes, out var written)
            ? bytes[..written]
            : throw Invalid($"{field} is not base64 (BYTES data such as an encoded IMAGE travels as base64 in JSON).");
    }

    private static void WriteParameters(Utf8JsonWriter json, Google.Protobuf.Collections.MapField<string, Inference.InferParameter> parameters)
    {
        json.WriteStartObject("parameters");
        foreach (var (name, value) in parameters)
        {
            switch (value.ParameterChoiceCase)
            {
                case Inference.InferParameter.ParameterChoiceOneofCase.BoolParam:
                    json.WriteBoolean(name, value.BoolParam);
                    break;
                case Inference.InferParameter.ParameterChoiceOneofCase.Int64Param:
                    json.WriteNumber(name, value.Int64Param);
                    break;
                case Inference.InferParameter.ParameterChoiceOneofCase.Uint64Param:
                    json.WriteNumber(name, value.Uint64Param);
                    break;
                case Inference.InferParameter.ParameterChoiceOneofCase.DoubleParam:
                    json.WriteNumber(name, value.DoubleParam);
                    break;
                default:
                    json.WriteString(name, value.StringParam);
                    break;
            }
        }

        json.WriteEndObject();
    }

    private static void WriteData(Utf8JsonWriter json, string datatype, ReadOnlySpan<byte> raw)
    {
        if (datatype == OipTensors.Fp32)
        {
            foreach (var v in MemoryMarshal.Cast<byte, float>(raw))
            {
                json.WriteNumberValue(v);
            }

            return;
        }

        // BYTES (the classification extension's "score:index:label" strings): 4-byte little-endian lengths, then bytes.
        while (raw.Length >= 4)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(raw);
            json.WriteStringValue(Encoding.UTF8.GetString(raw.Slice(4, length)));
            raw = raw[(4 + length)..];
        }
    }

    private static string String(JsonElement element, string name, string field) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Invalid($"{field}.{name} must be a string.");

    private static JsonElement Array(JsonElement element, string name, string field) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array ? value : throw Invalid($"{field}.{name} must be an array.");

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
