using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using DfbNet.Protocol.V1;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Inference = DfbNet.Protocol.Inference;

namespace DfbNet.Cli.Load;

/// <summary>
/// <c>inference.GRPCInferenceService/ModelStreamInfer</c> (docs/OPEN-INFERENCE.md): each frame is a ModelInferRequest
/// with the request id as frame id, the image as input <c>IMAGE</c> (BYTES [1], a PNG or JPEG) or <c>FRAME</c>
/// (UINT8 [H, W, 3], raw), and DfbNet's request parameters; each exit event comes back as one response, the last with
/// <c>triton_final_response</c> true, and a failed frame as a response with <c>error_message</c> and a
/// <c>status_code</c> parameter.
/// </summary>
internal sealed class OipLoadProtocol : ILoadProtocol
{
    public const string ImageInput = "IMAGE";
    public const string FrameInput = "FRAME";
    public const string Output = "PROBABILITIES";
    public const string QueuePolicyHeader = "dfbnet-queue-policy";

    private readonly Inference.GRPCInferenceService.GRPCInferenceServiceClient _client;
    private readonly LoadCallSettings _settings;

    // Built once and shared by every request (serialising a message does not change it). Encoded images travel as
    // typed BYTES contents, raw frames in raw_input_contents (a typed UINT8 tensor would be one varint per byte).
    private readonly Inference.ModelInferRequest.Types.InferInputTensor[] _inputs;
    private readonly ByteString?[] _raw;
    private readonly Inference.ModelInferRequest.Types.InferRequestedOutputTensor _output;
    private readonly Metadata _headers;

    public OipLoadProtocol(GrpcChannel channel, LoadCallSettings settings, FrameSet frames)
    {
        _client = new Inference.GRPCInferenceService.GRPCInferenceServiceClient(channel);
        _settings = settings;
        _inputs = frames.Frames.Select(f => f.IsRaw
            ? new Inference.ModelInferRequest.Types.InferInputTensor { Name = FrameInput, Datatype = "UINT8", Shape = { f.Height, f.Width, 3 } }
            : new Inference.ModelInferRequest.Types.InferInputTensor
            {
                Name = ImageInput,
                Datatype = "BYTES",
                Shape = { 1 },
                Contents = new Inference.InferTensorContents { BytesContents = { ByteString.CopyFrom(f.Bytes) } },
            }).ToArray();
        _raw = frames.Frames.Select(f => f.IsRaw ? ByteString.CopyFrom(f.Bytes) : null).ToArray();

        // The classification extension with k = 1: the answer's class as "score:index:label", not K probabilities.
        _output = new Inference.ModelInferRequest.Types.InferRequestedOutputTensor { Name = Output };
        _output.Parameters["classification"] = new Inference.InferParameter { Int64Param = 1 };

        // The queue policy belongs to the stream, not to a request: OIP has no stream options, so it is a header.
        _headers = [.. settings.Headers];
        if (settings.QueuePolicy != QueuePolicy.Unspecified)
        {
            _headers.Add(QueuePolicyHeader, settings.QueuePolicy == QueuePolicy.Latest ? "latest" : "queue");
        }
    }

    public string Name => "oip";

    public Task<ILoadStream> OpenAsync(CancellationToken cancellationToken)
    {
        var call = _client.ModelStreamInfer(new CallOptions(_headers, cancellationToken: cancellationToken));
        return Task.FromResult<ILoadStream>(new OipLoadStream(call, this));
    }

    private Inference.ModelInferRequest Request(int frameIndex, string frameId, double budgetMs)
    {
        var request = new Inference.ModelInferRequest { ModelName = _settings.Model, Id = frameId, Inputs = { _inputs[frameIndex] }, Outputs = { _output } };
        if (_raw[frameIndex] is { } raw)
        {
            request.RawInputContents.Add(raw);
        }

        var p = request.Parameters;
        if (_settings.Mode != InferenceMode.Unspecified)
        {
            p["mode"] = new Inference.InferParameter { StringParam = _settings.Mode == InferenceMode.Refine ? "refine" : _settings.Mode == InferenceMode.Full ? "full" : "first-exit" };
        }

        if (_settings.Preset is { } preset)
        {
            p["preset"] = new Inference.InferParameter { StringParam = preset };
        }

        if (budgetMs > 0)
        {
            // Triton's request timeout, in microseconds, is DfbNet's per-frame budget.
            p["timeout"] = new Inference.InferParameter { Int64Param = Math.Max(1, (long)Math.Round(budgetMs * 1000)) };
        }

        // Sent only when asked for, so that a server without the parameter sees the requests it always did.
        if (_settings.AlwaysAnswer)
        {
            p["always_answer"] = new Inference.InferParameter { BoolParam = true };
        }

        return request;
    }

    /// <summary>A response as a protocol-neutral event.</summary>
    internal static LoadEvent ToEvent(Inference.ModelStreamInferResponse response)
    {
        var r = response.InferResponse ?? new Inference.ModelInferResponse();
        var p = r.Parameters;
        var final = p.TryGetValue("triton_final_response", out var f) ? f.BoolParam : p.TryGetValue("final", out var g) && g.BoolParam;
        if (!string.IsNullOrEmpty(response.ErrorMessage))
        {
            var code = p.TryGetValue("status_code", out var s) && s.StringParam is { Length: > 0 } name ? name : "Unknown";

            // An error response ends its request whether or not it says so.
            return new LoadEvent(r.Id, true, ExitKind.Error, 0, -1, null, null, code);
        }

        var kind = (p.TryGetValue("exit_kind", out var k) ? k.StringParam : "") switch
        {
            "below_threshold" => ExitKind.BelowThreshold,
            "early_exit" => ExitKind.EarlyExit,
            "refinement" => ExitKind.Refinement,
            "fused" => ExitKind.Fused,
            "budget_cut" => ExitKind.BudgetCut,
            "dropped" => ExitKind.Dropped,
            "error" => ExitKind.Error,
            _ => ExitKind.Unspecified,
        };
        var exit = p.TryGetValue("exit", out var e) ? (int)e.Int64Param : 0;
        TimeSpan? serverTime = p.TryGetValue("server_time_us", out var st) ? TimeSpan.FromMicroseconds(st.Int64Param) : null;
        TimeSpan? queueTime = p.TryGetValue("queue_time_us", out var qt) ? TimeSpan.FromMicroseconds(qt.Int64Param) : null;
        return new LoadEvent(r.Id, final, kind, exit, PredictedClass(r), serverTime, queueTime, kind == ExitKind.Error ? "Unknown" : null);
    }

    /// <summary>The class of the first output: "score:index:label" (classification, Triton's raw BYTES layout of a
    /// 4-byte little-endian length and the text) or the argmax of FP32 probabilities; -1 when there is none.</summary>
    private static int PredictedClass(Inference.ModelInferResponse r)
    {
        if (r.Outputs.Count == 0 || r.RawOutputContents.Count == 0)
        {
            return -1;
        }

        var content = r.RawOutputContents[0].Span;
        if (r.Outputs[0].Datatype == "BYTES")
        {
            var length = content.Length < 4 ? uint.MaxValue : BinaryPrimitives.ReadUInt32LittleEndian(content);
            if (length > content.Length - 4)
            {
                return -1;
            }

            var parts = Encoding.UTF8.GetString(content.Slice(4, (int)length)).Split(':');
            return parts.Length >= 2 && int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var index) ? index : -1;
        }

        var probabilities = MemoryMarshal.Cast<byte, float>(content);
        var best = -1;
        for (var i = 0; i < probabilities.Length; i++)
        {
            if (best < 0 || probabilities[i] > probabilities[best])
            {
                best = i;
            }
        }

        return best;
    }

    private sealed class OipLoadStream(AsyncDuplexStreamingCall<Inference.ModelInferRequest, Inference.ModelStreamInferResponse> call, OipLoadProtocol protocol) : ILoadStream
    {
        public Task WriteAsync(int frameIndex, string frameId, double budgetMs, CancellationToken cancellationToken) =>
            call.RequestStream.WriteAsync(protocol.Request(frameIndex, frameId, budgetMs), cancellationToken);

        public Task CompleteAsync() => call.RequestStream.CompleteAsync();

        public async IAsyncEnumerable<LoadEvent> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (var response in call.ResponseStream.ReadAllAsync(cancellationToken))
            {
                yield return ToEvent(response);
            }
        }

        public ValueTask DisposeAsync()
        {
            call.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
