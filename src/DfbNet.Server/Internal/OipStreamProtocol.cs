using DfbNet.Core;
using Grpc.Core;
using Inference = DfbNet.Protocol.Inference;

namespace DfbNet.Server.Internal;

/// <summary>ModelStreamInfer's messages for a <see cref="FrameStreamSession{TRequest, TResponse}"/>: each request names
/// its model and settings; each exit event is one response, the last with <c>triton_final_response</c> true; a failed
/// or refused request is one error response (its status code in the <c>status_code</c> parameter) and the stream goes on.</summary>
internal sealed class OipStreamProtocol(ModelRegistry models, DfbNetServerOptions defaults, StreamQueuePolicy? queuePolicy, ILogger logger)
    : IFrameStreamProtocol<Inference.ModelInferRequest, Inference.ModelStreamInferResponse>
{
    public string Description => "ModelStreamInfer";

    public StreamQueuePolicy? QueuePolicy => queuePolicy;

    public bool CarriesFrame(Inference.ModelInferRequest message) => true;

    public StreamFrame Parse(Inference.ModelInferRequest message, long receivedTimestamp, long frameNumber)
    {
        try
        {
            var parsed = OipRequest.Parse(message, models, defaults, receivedTimestamp);
            return new StreamFrame(parsed.Engine, parsed.Frame, null, parsed) { Model = parsed.Model };
        }
        catch (RpcException ex)
        {
            // A bad request inside a stream is answered with an error response; the stream goes on.
            OipLog.StreamRequestRejected(logger, message.Id, ex.Status.Detail);
            var failure = FrameEvaluation.Failed(message.Id, FrameErrorCode.InvalidArgument, ex.Status.Detail, TimeSpan.Zero);
            return new StreamFrame(null, null, failure, (message, ex.Status));
        }
    }

    public Inference.ModelStreamInferResponse ToResponse(StreamFrame frame, ExitEvent exitEvent)
    {
        if (frame.State is (Inference.ModelInferRequest rejected, Status status))
        {
            return Error(rejected.ModelName, rejected.ModelVersion, rejected.Id, status);
        }

        var parsed = (OipRequest)frame.State!;
        if (exitEvent.Kind == ExitKind.Error)
        {
            return Error(parsed.Engine.Name, parsed.Model.Version, parsed.Frame.FrameId, new Status(EventMapper.ToStatusCode(exitEvent.ErrorCode), exitEvent.Error ?? ""));
        }

        var response = OipResponses.Build(parsed, exitEvent);
        response.Parameters["triton_final_response"] = new Inference.InferParameter { BoolParam = exitEvent.IsFinal };
        return new Inference.ModelStreamInferResponse { InferResponse = response };
    }

    private static Inference.ModelStreamInferResponse Error(string model, string version, string id, Status status)
    {
        var response = new Inference.ModelInferResponse { ModelName = model, ModelVersion = version, Id = id };
        response.Parameters["triton_final_response"] = new Inference.InferParameter { BoolParam = true };
        response.Parameters["status_code"] = new Inference.InferParameter { StringParam = status.StatusCode.ToString() };
        return new Inference.ModelStreamInferResponse { ErrorMessage = status.Detail, InferResponse = response };
    }
}
