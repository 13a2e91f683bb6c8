namespace DfbNet.Runtime.Preprocessing;

/// <summary>An image that cannot be turned into a model input: corrupt, unsupported, too large, or a raw buffer of the wrong size.</summary>
public sealed class InvalidImageException : Exception
{
    public InvalidImageException(string message)
        : base(message)
    {
    }

    public InvalidImageException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>True when the image was refused for its size rather than its content.</summary>
    public bool TooLarge { get; init; }
}
