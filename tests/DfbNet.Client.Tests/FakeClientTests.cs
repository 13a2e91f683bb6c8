using System.Runtime.CompilerServices;
using DfbNet.Protocol.V1;

namespace DfbNet.Client.Tests;

/// <summary>Code that takes an <see cref="IDfbNetClient"/> is tested against a fake one, with no server: the SDK's event
/// types can be made from wire messages, as the client makes them.</summary>
public sealed class FakeClientTests
{
    [Fact]
    public async Task CodeTakingTheInterface_RunsAgainstAFake_WithSdkEvents()
    {
        IDfbNetClient client = new FakeClient();
        var frames = Enumerable.Range(0, 3).Select(i => new InputFrame($"f{i}", ImageInput.FromRgb(new byte[12], 2, 2))).ToAsyncEnumerable();

        var answers = await CountAnswersAsync(client, frames);
        var classified = await client.ClassifyAsync(ImageInput.FromRgb(new byte[12], 2, 2));

        Assert.Equal(new Dictionary<string, int> { ["cat"] = 3 }, answers);
        Assert.Equal(FrameEventKind.EarlyExit, classified.Answer.Kind);
        Assert.Equal(TimeSpan.FromMilliseconds(1.5), classified.Answer.ServerTime);
        Assert.Same(classified.Answer, classified.Events[^1]);
        Assert.Equal("fake", classified.Wire.Model);
    }

    [Fact]
    public void StreamEvent_RefusesNulls() =>
        Assert.Throws<ArgumentNullException>(() => new StreamEvent(new InputFrame("f", ImageInput.FromRgb(new byte[12], 2, 2)), null!, TimeSpan.Zero));

    /// <summary>What a user's camera code might do with a client: count the final answers by class.</summary>
    private static async Task<Dictionary<string, int>> CountAnswersAsync(IDfbNetClient client, IAsyncEnumerable<InputFrame> frames)
    {
        var counts = new Dictionary<string, int>();
        await foreach (var e in client.StreamAsync(frames))
        {
            if (e.IsFinal && e.Event.Prediction is { } p)
            {
                counts[p.ClassName] = counts.GetValueOrDefault(p.ClassName) + 1;
            }
        }

        return counts;
    }

    private sealed class FakeClient : IDfbNetClient
    {
        public Uri Address { get; } = new("http://fake");

        private static ExitEvent Answer(string id) => new()
        {
            FrameId = id,
            Exit = 1,
            Kind = ExitKind.EarlyExit,
            Final = true,
            Prediction = new Prediction { ClassIndex = 3, ClassName = "cat", Confidence = 0.97f },
            ServerTime = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromMilliseconds(1.5)),
        };

        public Task<ClassifyResult> ClassifyAsync(ImageInput image, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
            Task.FromResult(ClassifyResult.FromWire(new ClassifyResponse { Model = "fake", Answer = Answer("0"), Events = { Answer("0") } }));

        public Task<ModelInfo> GetModelInfoAsync(string? model = null, CancellationToken cancellationToken = default) =>
            Task.FromResult(new ModelInfo { Name = "fake" });

        public async IAsyncEnumerable<StreamEvent> StreamAsync(IAsyncEnumerable<InputFrame> frames, RequestOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await foreach (var frame in frames.WithCancellation(cancellationToken))
            {
                yield return new StreamEvent(frame, Answer(frame.Id!), TimeSpan.FromMilliseconds(2));
            }
        }
    }
}
