using System.Runtime.CompilerServices;
using DfbNet.Protocol.V1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;

namespace DfbNet.Cli.Load;

/// <summary>
/// <c>dfbnet.v1.DfbNet/ClassifyStream</c>: the first message carries the stream options only, each later one a frame
/// with its id, image and budget.
/// </summary>
internal sealed class NativeLoadProtocol : ILoadProtocol
{
    private readonly Protocol.V1.DfbNet.DfbNetClient _client;
    private readonly LoadCallSettings _settings;

    // Built once and shared by every message: protobuf messages and ByteStrings are not changed by serialising them.
    private readonly Image[] _images;

    public NativeLoadProtocol(GrpcChannel channel, LoadCallSettings settings, FrameSet frames)
    {
        _client = new Protocol.V1.DfbNet.DfbNetClient(channel);
        _settings = settings;
        _images = frames.Frames.Select(f => f.IsRaw
            ? new Image { Raw = new RawImage { Data = ByteString.CopyFrom(f.Bytes), Height = (uint)f.Height, Width = (uint)f.Width, Channels = 3 } }
            : new Image { Encoded = ByteString.CopyFrom(f.Bytes) }).ToArray();
    }

    public string Name => "native";

    public async Task<ILoadStream> OpenAsync(CancellationToken cancellationToken)
    {
        var call = _client.ClassifyStream(new CallOptions(_settings.Headers, cancellationToken: cancellationToken));
        var options = new StreamOptions
        {
            Model = _settings.Model,
            Mode = _settings.Mode,
            QueuePolicy = _settings.QueuePolicy,
            AlwaysAnswer = _settings.AlwaysAnswer,

            // Top-1 only: the answer is all a load client reads, and longer lists would cost the client CPU it shares.
            TopK = 1,
        };
        if (_settings.Preset is { } preset)
        {
            options.Thresholds = new ThresholdSelection { Preset = preset };
        }

        try
        {
            await call.RequestStream.WriteAsync(new StreamRequest { Options = options }, cancellationToken);
        }
        catch
        {
            call.Dispose();
            throw;
        }

        return new NativeLoadStream(call, _images);
    }

    private sealed class NativeLoadStream(AsyncDuplexStreamingCall<StreamRequest, ExitEvent> call, Image[] images) : ILoadStream
    {
        public Task WriteAsync(int frameIndex, string frameId, double budgetMs, CancellationToken cancellationToken)
        {
            var frame = new Frame { FrameId = frameId, Image = images[frameIndex] };
            if (budgetMs > 0)
            {
                frame.Budget = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(budgetMs));
            }

            return call.RequestStream.WriteAsync(new StreamRequest { Frame = frame }, cancellationToken);
        }

        public Task CompleteAsync() => call.RequestStream.CompleteAsync();

        public async IAsyncEnumerable<LoadEvent> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (var e in call.ResponseStream.ReadAllAsync(cancellationToken))
            {
                yield return new LoadEvent(
                    e.FrameId,
                    e.Final,
                    e.Kind,
                    e.Exit,
                    e.Prediction?.ClassIndex ?? -1,
                    e.ServerTime?.ToTimeSpan(),
                    e.QueueTime?.ToTimeSpan(),
                    e.Kind == ExitKind.Error ? e.ErrorCode : null);
            }
        }

        public ValueTask DisposeAsync()
        {
            call.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
