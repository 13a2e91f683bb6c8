using Grpc.Core;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using DfbNet.Core;
using Google.Protobuf;
using Inference = DfbNet.Protocol.Inference;

namespace DfbNet.Server.Internal;

/// <summary>Builds ModelInferResponses from exit events. Outputs go in raw_output_contents, as Triton returns them.</summary>
internal static class OipResponses
{
    /// <summary>Runs a parsed request to its final event and builds the response (ModelInfer on either transport);
    /// the request's lease is the caller's to dispose.</summary>
    /// <exception cref="RpcException">The final event's error, with its status code.</exception>
    public static async Task<Inference.ModelInferResponse> InferAsync(OipRequest parsed, CancellationToken cancellationToken)
    {
        ExitEvent? final = null;
        await foreach (var e in parsed.Engine.ClassifyAsync(parsed.Frame, cancellationToken))
        {
            final = e;
        }

        if (final is null || final.Kind == ExitKind.Error)
        {
            throw new RpcException(new Status(EventMapper.ToStatusCode(final?.ErrorCode ?? FrameErrorCode.Internal), final?.Error ?? "The request produced no answer."));
        }

        return Build(parsed, final);
    }

    public static Inference.ModelInferResponse Build(OipRequest request, ExitEvent e)
    {
        var engine = request.Engine;
        var response = new Inference.ModelInferResponse
        {
            ModelName = engine.Name,
            ModelVersion = request.Model.Version,
            Id = request.Frame.FrameId,
        };
        response.Parameters["exit"] = new Inference.InferParameter { Int64Param = e.Exit };
        response.Parameters["exit_kind"] = new Inference.InferParameter { StringParam = KindName(e.Kind) };
        response.Parameters["final"] = new Inference.InferParameter { BoolParam = e.IsFinal };
        response.Parameters["exits_computed"] = new Inference.InferParameter { Int64Param = e.ExitsComputed };
        response.Parameters["server_time_us"] = new Inference.InferParameter { Int64Param = (long)e.ServerTime.TotalMicroseconds };

        response.Parameters["queue_time_us"] = new Inference.InferParameter { Int64Param = (long)e.QueueTime.TotalMicroseconds };
        if (e.Preset is { } preset)
        {
            response.Parameters["preset"] = new Inference.InferParameter { StringParam = preset };
        }

        if (e.Prediction is null)
        {
            // A budget cut before exit 1, or a dropped frame: the event has no prediction, so no output tensors.
            return response;
        }

        var probabilities = e.Prediction.Probabilities;
        foreach (var output in request.Outputs)
        {
            if (output.Classification > 0)
            {
                response.Outputs.Add(new Inference.ModelInferResponse.Types.InferOutputTensor
                {
                    Name = output.Name,
                    Datatype = OipTensors.Bytes,
                    Shape = { 1, output.Classification },
                });
                response.RawOutputContents.Add(Classification(probabilities, output.Classification, engine.Classes));
            }
            else
            {
                response.Outputs.Add(new Inference.ModelInferResponse.Types.InferOutputTensor
                {
                    Name = output.Name,
                    Datatype = OipTensors.Fp32,
                    Shape = { 1, probabilities.Length },
                });
                response.RawOutputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(probabilities.AsSpan())));
            }
        }

        return response;
    }

    /// <summary>The classification extension: the top k as "score:index:label", each element length-prefixed (Triton's raw BYTES layout).</summary>
    private static ByteString Classification(float[] probabilities, int k, IReadOnlyList<string> classes)
    {
        var order = Enumerable.Range(0, probabilities.Length).OrderByDescending(i => probabilities[i]).ThenBy(i => i).Take(k);
        using var buffer = new MemoryStream();
        Span<byte> prefix = stackalloc byte[4];
        foreach (var i in order)
        {
            var text = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{probabilities[i]:F6}:{i}:{classes[i]}"));
            BinaryPrimitives.WriteUInt32LittleEndian(prefix, (uint)text.Length);
            buffer.Write(prefix);
            buffer.Write(text);
        }

        return ByteString.CopyFrom(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    public static string KindName(ExitKind kind) => kind switch
    {
        ExitKind.BelowThreshold => "below_threshold",
        ExitKind.EarlyExit => "early_exit",
        ExitKind.Refinement => "refinement",
        ExitKind.Fused => "fused",
        ExitKind.BudgetCut => "budget_cut",
        ExitKind.Dropped => "dropped",
        _ => "error",
    };
}
