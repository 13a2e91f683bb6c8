using DfbNet.Protocol.V1;
using Grpc.Core;
using Xunit.Abstractions;

namespace DfbNet.Server.Tests;

/// <summary>The server's decode memory budget (<c>DfbNet:DecodeMemoryBytes</c>): concurrent decodes of large frames stay
/// within it and every frame is answered; a frame larger than all of it is refused and its stream goes on.</summary>
public sealed class DecodeBudgetTests(ITestOutputHelper output) : IAsyncLifetime
{
    // CIFAR images upscaled to 512x512 PNGs for the 32x32 model: each decode holds 1 MiB and the 4 KiB resized input.
    private const int LargeScale = 16;
    private const long LargeDecodeBytes = (4L * 512 * 512) + (4 * 32 * 32);

    // Room for two such decodes at once (the setting's minimum is 1 MiB).
    private const long Budget = (2 * LargeDecodeBytes) + 1024;

    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync($"--DfbNet:DecodeMemoryBytes={Budget}");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ConcurrentLargeFrames_AreAllAnswered_AndTheirDecodesStayWithinTheBudget()
    {
        const int streams = 8;
        const int framesPerStream = 3;
        var budget = _server.Models.GetOrThrow("tiny").DecodeBudget;
        var images = Enumerable.Range(0, streams).Select(i => Frames.Png(i, LargeScale)).ToArray();

        var finals = (await Task.WhenAll(images.Select((image, s) => StreamAsync(s, Enumerable.Repeat(image, framesPerStream))))).SelectMany(f => f).ToList();

        output.WriteLine($"peak {budget.Peak} of {budget.Capacity} bytes; {budget.Waited} decodes waited");
        Assert.Equal(streams * framesPerStream, finals.Count);
        Assert.All(finals, e => Assert.True(e.Kind != ExitKind.Error, $"{e.FrameId}: {e.ErrorCode} {e.Error}"));
        Assert.InRange(budget.Peak, LargeDecodeBytes, Budget);
        Assert.Equal((0L, 0), (budget.InUse, budget.Waiting));

        // One budget for the server, whichever model a frame is for.
        Assert.Same(budget, _server.Models.GetOrThrow("second").DecodeBudget);
    }

    [Fact]
    public async Task FrameLargerThanTheWholeBudget_IsRefusedWithResourceExhausted_AndTheStreamGoesOn()
    {
        // 768x768: 2.25 MiB to decode, more than the budget's two 512x512 images.
        var finals = await StreamAsync(0, [Frames.Png(0, 24), Frames.Png(1)]);

        Assert.Equal(["0-0", "0-1"], finals.Select(e => e.FrameId));
        var refused = finals[0];
        Assert.Equal((ExitKind.Error, nameof(StatusCode.ResourceExhausted)), (refused.Kind, refused.ErrorCode));
        Assert.Contains($"decodes to {(4L * 768 * 768) + (4 * 32 * 32)} bytes", refused.Error, StringComparison.Ordinal);
        Assert.Contains($"at most {Budget} bytes", refused.Error, StringComparison.Ordinal);
        Assert.Contains("DfbNet:DecodeMemoryBytes", refused.Error, StringComparison.Ordinal);
        Assert.NotEqual(ExitKind.Error, finals[1].Kind);
    }

    /// <summary>Sends <paramref name="images"/> on one stream and returns each frame's final event.</summary>
    private async Task<List<ExitEvent>> StreamAsync(int stream, IEnumerable<Image> images)
    {
        using var call = _server.Client.ClassifyStream();
        var number = 0;
        foreach (var image in images)
        {
            await call.RequestStream.WriteAsync(new StreamRequest { Frame = new Frame { FrameId = $"{stream}-{number++}", Image = image } });
        }

        await call.RequestStream.CompleteAsync();
        var finals = new List<ExitEvent>();
        await foreach (var e in call.ResponseStream.ReadAllAsync())
        {
            if (e.Final)
            {
                finals.Add(e);
            }
        }

        return finals;
    }
}
