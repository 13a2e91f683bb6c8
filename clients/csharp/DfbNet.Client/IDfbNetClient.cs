using DfbNet.Protocol.V1;

namespace DfbNet.Client;

/// <summary>
/// What a <see cref="DfbNetClient"/> does, for code that takes a client and tests that fake one: classify an image,
/// stream frames, describe a model. Events come in SDK types (<see cref="FrameEvent"/>, <see cref="ClassifyResult"/>),
/// each with its wire message beside it (<see cref="StreamEvent.Wire"/>, <see cref="ClassifyResult.Wire"/>).
/// </summary>
public interface IDfbNetClient
{
    /// <summary>The server's address.</summary>
    Uri Address { get; }

    /// <summary>Classifies one image: the answer and every exit event computed for it (see <see cref="DfbNetClient.ClassifyAsync"/>).</summary>
    /// <param name="image">The image.</param>
    /// <param name="options">Overrides of the client's defaults for this call.</param>
    /// <param name="cancellationToken">Cancels the call, its retries included.</param>
    Task<ClassifyResult> ClassifyAsync(ImageInput image, RequestOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Describes a model (see <see cref="DfbNetClient.GetModelInfoAsync"/>).</summary>
    /// <param name="model">The model; null for the client's default (or the server's).</param>
    /// <param name="cancellationToken">Cancels the call, its retries included.</param>
    Task<ModelInfo> GetModelInfoAsync(string? model = null, CancellationToken cancellationToken = default);

    /// <summary>Streams frames and yields every exit event as it arrives (see <see cref="DfbNetClient.StreamAsync"/>).</summary>
    /// <param name="frames">The frames; consumed once.</param>
    /// <param name="options">Overrides of the client's defaults for the whole stream.</param>
    /// <param name="cancellationToken">Ends the stream.</param>
    IAsyncEnumerable<StreamEvent> StreamAsync(IAsyncEnumerable<InputFrame> frames, RequestOptions? options = null, CancellationToken cancellationToken = default);
}

/// <summary>Named clients from the container (<c>AddDfbNetClient(name, ...)</c>): one per name, made on first use, shared
/// and disposed with the container.</summary>
public interface IDfbNetClientFactory
{
    /// <summary>The client configured under <paramref name="name"/>.</summary>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">Its options are invalid; the message names them.</exception>
    IDfbNetClient GetClient(string name);
}
