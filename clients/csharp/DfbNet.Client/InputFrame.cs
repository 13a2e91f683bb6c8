namespace DfbNet.Client;

/// <summary>
/// A frame of a stream: an image, the id its events carry, and an optional budget of its own.
/// </summary>
/// <remarks>Named <c>InputFrame</c> rather than <c>Frame</c> so that it does not clash with the wire message
/// <c>DfbNet.Protocol.V1.Frame</c> in code that imports both namespaces.</remarks>
/// <param name="Id">The frame's id, echoed in its events and unique among the frames in flight; null or empty lets the
/// client number frames 0, 1, 2... in the order it takes them.</param>
/// <param name="Image">The image.</param>
/// <param name="Budget">A latency budget for this frame only; null for the stream's.</param>
public sealed record InputFrame(string? Id, ImageInput Image, TimeSpan? Budget = null);
