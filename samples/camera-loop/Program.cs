// A camera loop: frames at 20 fps, each with a 50 ms budget, the server keeping only the newest waiting frame (the
// live-camera policy), every exit event printed as it fires. Frames here are a moving test pattern; a real camera's
// come from its decoder. Usage: CameraLoop [SERVER] [FRAMES]   (default http://localhost:50051, 40 frames)
using System.Runtime.CompilerServices;
using DfbNet.Client;
using DfbNet.Protocol.V1;

var server = new Uri(args.Length > 0 ? args[0] : "http://localhost:50051");
var count = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 40;
using var client = new DfbNetClient(new DfbNetClientOptions { Address = server, QueuePolicy = QueuePolicy.Latest });
var info = await client.GetModelInfoAsync();
Console.WriteLine($"model {info.Name}: {info.InputWidth}x{info.InputHeight}, {info.Exits.Count} exits");

var finals = 0;
await foreach (var e in client.StreamAsync(Camera(info.InputWidth, info.InputHeight, count)))
{
    var what = e.Event.Prediction is { } p ? $"{p.ClassName} {p.Confidence:0.000}" : e.Event.Error;
    Console.WriteLine($"{e.Frame.Id} exit {e.Event.Exit} {e.Event.Kind} {what}{(e.IsFinal ? $" final after {e.RoundTrip.TotalMilliseconds:0.0} ms" : "")}");
    finals += e.IsFinal ? 1 : 0;
}

Console.WriteLine($"{finals} of {count} frames answered");
return finals == count ? 0 : 1;

static async IAsyncEnumerable<InputFrame> Camera(int width, int height, int count, [EnumeratorCancellation] CancellationToken cancellationToken = default)
{
    using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
    for (var i = 0; i < count && await timer.WaitForNextTickAsync(cancellationToken); i++)
    {
        var rgb = new byte[width * height * 3];
        for (var p = 0; p < rgb.Length; p++)
        {
            rgb[p] = (byte)((p / 3 % width) + (p / 3 / width) + (i * 8));
        }

        yield return new InputFrame($"frame-{i:D4}", ImageInput.FromRgb(rgb, width, height), Budget: TimeSpan.FromMilliseconds(50));
    }
}
