using System.Buffers.Binary;
using System.Text;
using DfbNet.Cli.Load;
using DfbNet.Protocol.V1;
using Google.Protobuf;
using Inference = DfbNet.Protocol.Inference;

namespace DfbNet.Cli.Tests.Load;

public sealed class OipLoadProtocolTests
{
    [Fact]
    public void ToEvent_FinalAnswer_ReadsKindExitTimesAndTheClassificationOutput()
    {
        var response = new Inference.ModelInferResponse { Id = "3-17" };
        response.Parameters["exit"] = new Inference.InferParameter { Int64Param = 2 };
        response.Parameters["exit_kind"] = new Inference.InferParameter { StringParam = "early_exit" };
        response.Parameters["server_time_us"] = new Inference.InferParameter { Int64Param = 1500 };
        response.Parameters["queue_time_us"] = new Inference.InferParameter { Int64Param = 250 };
        response.Parameters["triton_final_response"] = new Inference.InferParameter { BoolParam = true };
        response.Outputs.Add(new Inference.ModelInferResponse.Types.InferOutputTensor { Name = "PROBABILITIES", Datatype = "BYTES", Shape = { 1, 1 } });
        var text = Encoding.UTF8.GetBytes("0.912345:7:horse");
        var element = new byte[4 + text.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(element, (uint)text.Length);
        text.CopyTo(element, 4);
        response.RawOutputContents.Add(ByteString.CopyFrom(element));

        var e = OipLoadProtocol.ToEvent(new Inference.ModelStreamInferResponse { InferResponse = response });

        Assert.Equal(new LoadEvent("3-17", true, ExitKind.EarlyExit, 2, 7, TimeSpan.FromMilliseconds(1.5), TimeSpan.FromMilliseconds(0.25), null), e);
    }

    [Fact]
    public void ToEvent_ErrorResponse_IsAFinalErrorWithItsStatusCode()
    {
        var response = new Inference.ModelInferResponse { Id = "0-4" };
        response.Parameters["triton_final_response"] = new Inference.InferParameter { BoolParam = true };
        response.Parameters["status_code"] = new Inference.InferParameter { StringParam = "ResourceExhausted" };

        var e = OipLoadProtocol.ToEvent(new Inference.ModelStreamInferResponse { ErrorMessage = "over its share", InferResponse = response });

        Assert.Equal(new LoadEvent("0-4", true, ExitKind.Error, 0, -1, null, null, "ResourceExhausted"), e);
    }

    [Fact]
    public void ToEvent_DroppedOrNotFinal_CarriesNoPrediction()
    {
        var dropped = new Inference.ModelInferResponse { Id = "1-1" };
        dropped.Parameters["exit_kind"] = new Inference.InferParameter { StringParam = "dropped" };
        dropped.Parameters["triton_final_response"] = new Inference.InferParameter { BoolParam = true };
        var below = new Inference.ModelInferResponse { Id = "1-2" };
        below.Parameters["exit_kind"] = new Inference.InferParameter { StringParam = "below_threshold" };
        below.Parameters["triton_final_response"] = new Inference.InferParameter { BoolParam = false };

        var d = OipLoadProtocol.ToEvent(new Inference.ModelStreamInferResponse { InferResponse = dropped });
        var b = OipLoadProtocol.ToEvent(new Inference.ModelStreamInferResponse { InferResponse = below });

        Assert.Equal((true, ExitKind.Dropped, -1), (d.Final, d.Kind, d.ClassIndex));
        Assert.Equal((false, ExitKind.BelowThreshold), (b.Final, b.Kind));
    }
}
