namespace DfbNet.Training.Data;

/// <summary>
/// A <c>--data</c> folder or file that cannot be read as a data set: missing or truncated CIFAR files, an undecodable
/// image, an empty class folder, too few images for the split, a folder of neither kind. The message is one line that
/// names the file or folder and says what was expected; the CLI prints it without a stack trace.
/// </summary>
public sealed class DatasetException : Exception
{
    public DatasetException(string message)
        : base(message)
    {
    }

    public DatasetException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
