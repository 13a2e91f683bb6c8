using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Runtime.Tests;
using Google.Protobuf;
using Grpc.Core;
using Inference = DfbNet.Protocol.Inference;
using InputTensor = DfbNet.Protocol.Inference.ModelInferRequest.Types.InferInputTensor;

namespace DfbNet.Server.Tests;

/// <summary>Drives every Open Inference Protocol RPC with a client generated from the same proto.</summary>
public sealed class OpenInferenceTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private Inference.GRPCInferenceService.GRPCInferenceServiceClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _client = new Inference.GRPCInferenceService.GRPCInferenceServiceClient(_server.Channel);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task HealthAndServerMetadata()
    {
        Assert.True((await _client.ServerLiveAsync(new Inference.ServerLiveRequest())).Live);
        Assert.True((await _client.ServerReadyAsync(new Inference.ServerReadyRequest())).Ready);
        Assert.True((await _client.ModelReadyAsync(new Inference.ModelReadyRequest { Name = "tiny" })).Ready);
        Assert.True((await _client.ModelReadyAsync(new Inference.ModelReadyRequest { Name = "tiny", Version = "1" })).Ready);
        var meta = await _client.ServerMetadataAsync(new Inference.ServerMetadataRequest());
        Assert.Equal("dfbnet", meta.Name);
        Assert.Contains("classification", meta.Extensions);
        Assert.False(string.IsNullOrEmpty(meta.Version));
    }

    [Fact]
    public async Task ModelReady_UnknownModelOrVersion_IsNotFound()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await _client.ModelReadyAsync(new Inference.ModelReadyRequest { Name = "nope" }));
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        ex = await Assert.ThrowsAsync<RpcException>(async () => await _client.ModelReadyAsync(new Inference.ModelReadyRequest { Name = "tiny", Version = "7" }));
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
    }

    [Fact]
    public async Task ModelMetadata_DescribesInputsAndOutputsTruthfully()
    {
        var meta = await _client.ModelMetadataAsync(new Inference.ModelMetadataRequest { Name = "tiny" });
        Assert.Equal("tiny", meta.Name);
        Assert.Equal(["1"], meta.Versions);
        Assert.Equal([("IMAGE", "BYTES"), ("FRAME", "UINT8"), ("TENSOR", "FP32")], meta.Inputs.Select(i => (i.Name, i.Datatype)));
        Assert.Equal([1L, 3, 32, 32], meta.Inputs.Single(i => i.Name == "TENSOR").Shape);
        Assert.Equal([-1L, -1, 3], meta.Inputs.Single(i => i.Name == "FRAME").Shape);
        var output = Assert.Single(meta.Outputs);
        Assert.Equal(("PROBABILITIES", "FP32"), (output.Name, output.Datatype));
        Assert.Equal([1L, 10], output.Shape);

        // The truth of the metadata: a request shaped as it says is answered with an output shaped as it says.
        var response = await _client.ModelInferAsync(Request(RawBytesImage(0)));
        Assert.Equal(output.Shape, response.Outputs[0].Shape);
        Assert.Equal(40, response.RawOutputContents[0].Length);
    }

    [Fact]
    public async Task BytesTypedRawAndFp32Inputs_GiveIdenticalProbabilities()
    {
        var hwc = CifarSlice.Hwc(3);
        var png = ImageEncoding.EncodePng(hwc, 32, 32);
        var tensor = new float[3 * 32 * 32];
        Assert.True(_server.Models.TryGet("tiny", out var engine));
        engine.Preprocessor.Process(ImageSource.Raw(hwc, 32, 32), tensor);

        var requests = new List<Inference.ModelInferRequest>
        {
            Request(new InputTensor { Name = "IMAGE", Datatype = "BYTES", Shape = { 1 }, Contents = new() { BytesContents = { ByteString.CopyFrom(png) } } }),
            Request(RawBytesInput(png)),
            Request(new InputTensor { Name = "FRAME", Datatype = "UINT8", Shape = { 32, 32, 3 }, Contents = new() { UintContents = { hwc.Select(b => (uint)b) } } }),
            Request(new InputTensor { Name = "FRAME", Datatype = "UINT8", Shape = { 1, 32, 32, 3 } }, ByteString.CopyFrom(hwc)),
            Request(new InputTensor { Name = "TENSOR", Datatype = "FP32", Shape = { 1, 3, 32, 32 }, Contents = new() { Fp32Contents = { tensor } } }),
            Request(new InputTensor { Name = "TENSOR", Datatype = "FP32", Shape = { 1, 3, 32, 32 } }, ByteString.CopyFrom(MemoryMarshal.AsBytes(tensor.AsSpan()))),
        };

        var results = new List<float[]>();
        foreach (var request in requests)
        {
            request.Parameters["mode"] = new Inference.InferParameter { StringParam = "full" };
            var response = await _client.ModelInferAsync(request);
            Assert.Equal("PROBABILITIES", response.Outputs[0].Name);
            results.Add(MemoryMarshal.Cast<byte, float>(response.RawOutputContents[0].Span).ToArray());
        }

        Assert.All(results, r => Assert.Equal(results[0], r));
        Assert.Equal(1f, results[0].Sum(), 4);
    }

    [Fact]
    public async Task ModelInfer_EchoesIdAndReportsTheExit()
    {
        var request = Request(RawBytesImage(1));
        request.Id = "req-42";
        request.Parameters["thresholds"] = new Inference.InferParameter { StringParam = "0,0,0" };
        var response = await _client.ModelInferAsync(request);
        Assert.Equal("req-42", response.Id);
        Assert.Equal("tiny", response.ModelName);
        Assert.Equal("1", response.ModelVersion);
        Assert.Equal(1, response.Parameters["exit"].Int64Param);
        Assert.Equal("early_exit", response.Parameters["exit_kind"].StringParam);
    }

    [Fact]
    public async Task ModelInfer_TimeoutParameterIsTheBudget()
    {
        var request = Request(RawBytesImage(1));
        request.Parameters["thresholds"] = new Inference.InferParameter { StringParam = "1,1,1" };
        request.Parameters["timeout"] = new Inference.InferParameter { Int64Param = 1 };
        var response = await _client.ModelInferAsync(request);
        Assert.Equal("budget_cut", response.Parameters["exit_kind"].StringParam);
        Assert.Equal(0, response.Parameters["exits_computed"].Int64Param);
        Assert.Empty(response.Outputs);

        // always_answer: exit 1 runs whatever the budget, and its answer comes back cut.
        request.Parameters["always_answer"] = new Inference.InferParameter { BoolParam = true };
        response = await _client.ModelInferAsync(request);
        Assert.Equal("budget_cut", response.Parameters["exit_kind"].StringParam);
        Assert.Equal(1, response.Parameters["exits_computed"].Int64Param);
        Assert.Single(response.Outputs);
    }

    [Fact]
    public async Task ClassificationExtension_ReturnsScoreIndexLabel()
    {
        var request = Request(RawBytesImage(2));
        request.Outputs.Add(new Inference.ModelInferRequest.Types.InferRequestedOutputTensor
        {
            Name = "PROBABILITIES",
            Parameters = { ["classification"] = new Inference.InferParameter { Int64Param = 3 } },
        });
        var plain = await _client.ModelInferAsync(Request(RawBytesImage(2)));
        var probabilities = MemoryMarshal.Cast<byte, float>(plain.RawOutputContents[0].Span).ToArray();

        var response = await _client.ModelInferAsync(request);
        var output = Assert.Single(response.Outputs);
        Assert.Equal("BYTES", output.Datatype);
        Assert.Equal([1L, 3], output.Shape);
        var entries = ReadBytesElements(response.RawOutputContents[0].Span);
        Assert.Equal(3, entries.Count);
        var expectedOrder = Enumerable.Range(0, 10).OrderByDescending(i => probabilities[i]).Take(3).ToList();
        Assert.True(_server.Models.TryGet("tiny", out var engine));
        for (var n = 0; n < 3; n++)
        {
            var parts = entries[n].Split(':');
            Assert.Equal(3, parts.Length);
            Assert.Equal(expectedOrder[n], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(probabilities[expectedOrder[n]], float.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), 5);
            Assert.Equal(engine.Classes[expectedOrder[n]], parts[2]);
        }
    }

    [Fact]
    public async Task ModelStreamInfer_SendsOneResponsePerExitInOrderWithFinalFlag()
    {
        using var call = _client.ModelStreamInfer();
        for (var i = 0; i < 4; i++)
        {
            var request = Request(RawBytesImage(i));
            request.Id = $"s{i}";
            request.Parameters["mode"] = new Inference.InferParameter { StringParam = "refine" };
            request.Parameters["thresholds"] = new Inference.InferParameter { StringParam = "0,0,0" };
            await call.RequestStream.WriteAsync(request);
        }

        // A bad request in the middle: answered with an error response, the stream goes on.
        await call.RequestStream.WriteAsync(new Inference.ModelInferRequest { ModelName = "nope", Id = "bad" });
        var last = Request(RawBytesImage(9));
        last.Id = "after";
        await call.RequestStream.WriteAsync(last);
        await call.RequestStream.CompleteAsync();

        var responses = new List<Inference.ModelStreamInferResponse>();
        await foreach (var r in call.ResponseStream.ReadAllAsync())
        {
            responses.Add(r);
        }

        for (var i = 0; i < 4; i++)
        {
            var mine = responses.Where(r => r.InferResponse.Id == $"s{i}").ToList();
            Assert.All(mine, r => Assert.Equal("", r.ErrorMessage));
            Assert.Equal([1L, 2, 3, 0], mine.Select(r => r.InferResponse.Parameters["exit"].Int64Param));
            Assert.Equal(["early_exit", "refinement", "refinement", "fused"], mine.Select(r => r.InferResponse.Parameters["exit_kind"].StringParam));
            Assert.Equal([false, false, false, true], mine.Select(r => r.InferResponse.Parameters["triton_final_response"].BoolParam));
        }

        var bad = Assert.Single(responses, r => r.InferResponse.Id == "bad");
        Assert.Contains("nope", bad.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal("NotFound", bad.InferResponse.Parameters["status_code"].StringParam);
        Assert.True(responses.Where(r => r.InferResponse.Id == "after").Last().InferResponse.Parameters["triton_final_response"].BoolParam);
    }

    [Fact]
    public async Task ModelStreamInfer_CorruptImageGetsErrorResponseAndStreamGoesOn()
    {
        using var call = _client.ModelStreamInfer();
        var corrupt = Request(RawBytesInput(Encoding.ASCII.GetBytes("not an image at all")));
        corrupt.Id = "corrupt";
        await call.RequestStream.WriteAsync(corrupt);
        var good = Request(RawBytesImage(0));
        good.Id = "good";
        await call.RequestStream.WriteAsync(good);
        await call.RequestStream.CompleteAsync();
        var responses = new List<Inference.ModelStreamInferResponse>();
        await foreach (var r in call.ResponseStream.ReadAllAsync())
        {
            responses.Add(r);
        }

        var error = Assert.Single(responses, r => r.InferResponse.Id == "corrupt");
        Assert.NotEmpty(error.ErrorMessage);
        Assert.Equal("InvalidArgument", error.InferResponse.Parameters["status_code"].StringParam);
        Assert.Contains(responses, r => r.InferResponse.Id == "good" && r.InferResponse.Parameters["triton_final_response"].BoolParam);
    }

    [Fact]
    public async Task ModelConfigAndStatistics_AreTruthful()
    {
        var config = (await _client.ModelConfigAsync(new Inference.ModelConfigRequest { Name = "tiny" })).Config;
        Assert.Equal("tiny", config.Name);
        Assert.Equal(3, config.Input.Count);
        Assert.Equal("3", config.Parameters["exits"].StringValue);
        Assert.Equal("0.9,0.9,0", config.Parameters["preset.balanced"].StringValue);
        Assert.Equal("CPU", config.Parameters["execution_provider"].StringValue);
        Assert.True(config.ModelTransactionPolicy.Decoupled);

        var before = (await _client.ModelStatisticsAsync(new Inference.ModelStatisticsRequest { Name = "tiny" })).ModelStats.Single();
        var request = Request(RawBytesImage(0));
        request.Parameters["mode"] = new Inference.InferParameter { StringParam = "full" };
        await _client.ModelInferAsync(request);
        await Assert.ThrowsAsync<RpcException>(async () => await _client.ModelInferAsync(Request(RawBytesInput([1, 2, 3]))));
        var after = (await _client.ModelStatisticsAsync(new Inference.ModelStatisticsRequest { Name = "tiny" })).ModelStats.Single();

        Assert.Equal(before.InferenceCount + 1, after.InferenceCount);
        Assert.Equal(before.ExecutionCount + 3, after.ExecutionCount);
        Assert.Equal(before.InferenceStats.Fail.Count + 1, after.InferenceStats.Fail.Count);
        Assert.True(after.InferenceStats.ComputeInfer.Ns > before.InferenceStats.ComputeInfer.Ns);
        Assert.True(after.LastInference > 0);

        var all = await _client.ModelStatisticsAsync(new Inference.ModelStatisticsRequest());
        Assert.Equal(["second", "tiny"], all.ModelStats.Select(s => s.Name).Order());
    }

    public static TheoryData<string, StatusCode, string> Malformed => new()
    {
        { "unknown model", StatusCode.NotFound, "nope" },
        { "unknown version", StatusCode.NotFound, "version" },
        { "wrong datatype", StatusCode.InvalidArgument, "must be BYTES" },
        { "wrong shape", StatusCode.InvalidArgument, "shape" },
        { "uint8 size", StatusCode.InvalidArgument, "needs 3072 bytes" },
        { "fp32 size", StatusCode.InvalidArgument, "contents.fp32_contents" },
        { "raw bytes length prefix", StatusCode.InvalidArgument, "element says 9 bytes" },
        { "unknown input", StatusCode.InvalidArgument, "Unknown input" },
        { "two inputs", StatusCode.InvalidArgument, "exactly one input" },
        { "unknown output", StatusCode.InvalidArgument, "Unknown output" },
        { "bad classification", StatusCode.InvalidArgument, "classification" },
        { "raw and typed", StatusCode.InvalidArgument, "both" },
        { "bad mode", StatusCode.InvalidArgument, "mode" },
        { "bad preset", StatusCode.InvalidArgument, "preset" },
        { "negative timeout", StatusCode.InvalidArgument, "timeout" },
        { "corrupt image", StatusCode.InvalidArgument, "JPEG or PNG" },
        { "nan tensor", StatusCode.InvalidArgument, "finite" },
        { "infinite tensor", StatusCode.InvalidArgument, "element 5 is -" },
        { "timeout over an hour", StatusCode.InvalidArgument, "timeout" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task ModelInfer_MalformedRequest_IsRejectedWithTheRightStatus(string what, StatusCode code, string message)
    {
        var request = what switch
        {
            "unknown model" => Rename(Request(RawBytesImage(0)), "nope"),
            "unknown version" => Versioned(Request(RawBytesImage(0)), "2"),
            "wrong datatype" => Request(new InputTensor { Name = "IMAGE", Datatype = "FP32", Shape = { 1 } }, ByteString.CopyFrom(new byte[8])),
            "wrong shape" => Request(new InputTensor { Name = "FRAME", Datatype = "UINT8", Shape = { 32, 32 } }, ByteString.CopyFrom(new byte[1024])),
            "uint8 size" => Request(new InputTensor { Name = "FRAME", Datatype = "UINT8", Shape = { 32, 32, 3 } }, ByteString.CopyFrom(new byte[100])),
            "fp32 size" => Request(new InputTensor { Name = "TENSOR", Datatype = "FP32", Shape = { 1, 3, 32, 32 }, Contents = new() { Fp32Contents = { 1f, 2f } } }),
            "raw bytes length prefix" => Request(new InputTensor { Name = "IMAGE", Datatype = "BYTES", Shape = { 1 } }, ByteString.CopyFrom([9, 0, 0, 0, 1, 2])),
            "unknown input" => Request(new InputTensor { Name = "PIXELS", Datatype = "UINT8", Shape = { 1 } }, ByteString.CopyFrom([1])),
            "two inputs" => TwoInputs(),
            "unknown output" => WithOutput(Request(RawBytesImage(0)), "LOGITS", null),
            "bad classification" => WithOutput(Request(RawBytesImage(0)), "PROBABILITIES", new Inference.InferParameter { StringParam = "three" }),
            "raw and typed" => Request(new InputTensor { Name = "IMAGE", Datatype = "BYTES", Shape = { 1 }, Contents = new() { BytesContents = { ByteString.CopyFrom([1]) } } }, ByteString.CopyFrom([1, 0, 0, 0, 1])),
            "bad mode" => WithParameter(Request(RawBytesImage(0)), "mode", new Inference.InferParameter { StringParam = "fastest" }),
            "bad preset" => WithParameter(Request(RawBytesImage(0)), "preset", new Inference.InferParameter { StringParam = "nope" }),
            "negative timeout" => WithParameter(Request(RawBytesImage(0)), "timeout", new Inference.InferParameter { Int64Param = -5 }),
            "corrupt image" => Request(RawBytesInput(new byte[64])),
            "nan tensor" => Request(new InputTensor { Name = "TENSOR", Datatype = "FP32", Shape = { 1, 3, 32, 32 }, Contents = new() { Fp32Contents = { Enumerable.Repeat(float.NaN, 3072) } } }),
            "infinite tensor" => Request(new InputTensor { Name = "TENSOR", Datatype = "FP32", Shape = { 1, 3, 32, 32 }, Contents = new() { Fp32Contents = { Enumerable.Range(0, 3072).Select(i => i == 5 ? float.NegativeInfinity : 0.1f) } } }),
            "timeout over an hour" => WithParameter(Request(RawBytesImage(0)), "timeout", new Inference.InferParameter { Int64Param = long.MaxValue }),
            _ => throw new ArgumentOutOfRangeException(nameof(what)),
        };

        var ex = await Assert.ThrowsAsync<RpcException>(async () => await _client.ModelInferAsync(request));
        Assert.Equal(code, ex.StatusCode);
        Assert.Contains(message, ex.Status.Detail, StringComparison.Ordinal);
    }

    private static Inference.ModelInferRequest Request(InputTensor input, ByteString? raw = null)
    {
        var request = new Inference.ModelInferRequest { ModelName = "tiny", Inputs = { input } };
        if (raw is not null)
        {
            request.RawInputContents.Add(raw);
        }

        return request;
    }

    private static Inference.ModelInferRequest Request((InputTensor Input, ByteString Raw) input) => Request(input.Input, input.Raw);

    private static (InputTensor, ByteString) RawBytesImage(int index) => RawBytesInput(ImageEncoding.EncodePng(CifarSlice.Hwc(index), 32, 32));

    /// <summary>One BYTES element in Triton's raw layout: a 4-byte little-endian length, then the bytes.</summary>
    private static (InputTensor, ByteString) RawBytesInput(byte[] bytes)
    {
        var raw = new byte[bytes.Length + 4];
        BinaryPrimitives.WriteUInt32LittleEndian(raw, (uint)bytes.Length);
        bytes.CopyTo(raw, 4);
        return (new InputTensor { Name = "IMAGE", Datatype = "BYTES", Shape = { 1 } }, ByteString.CopyFrom(raw));
    }

    private static List<string> ReadBytesElements(ReadOnlySpan<byte> raw)
    {
        var list = new List<string>();
        while (raw.Length > 0)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(raw);
            list.Add(Encoding.UTF8.GetString(raw.Slice(4, length)));
            raw = raw[(4 + length)..];
        }

        return list;
    }

    private static Inference.ModelInferRequest Rename(Inference.ModelInferRequest r, string name)
    {
        r.ModelName = name;
        return r;
    }

    private static Inference.ModelInferRequest Versioned(Inference.ModelInferRequest r, string version)
    {
        r.ModelVersion = version;
        return r;
    }

    private static Inference.ModelInferRequest WithOutput(Inference.ModelInferRequest r, string name, Inference.InferParameter? classification)
    {
        var output = new Inference.ModelInferRequest.Types.InferRequestedOutputTensor { Name = name };
        if (classification is not null)
        {
            output.Parameters["classification"] = classification;
        }

        r.Outputs.Add(output);
        return r;
    }

    private static Inference.ModelInferRequest WithParameter(Inference.ModelInferRequest r, string name, Inference.InferParameter value)
    {
        r.Parameters[name] = value;
        return r;
    }

    private static Inference.ModelInferRequest TwoInputs()
    {
        var r = Request(RawBytesImage(0));
        var (input, raw) = RawBytesImage(1);
        r.Inputs.Add(input);
        r.RawInputContents.Add(raw);
        return r;
    }
}
