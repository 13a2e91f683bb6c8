namespace DfbNet.LoadBench;

/// <summary>A failure the benchmark explains in its message (a program missing, a server that did not start): printed as
/// one line or a few, without a stack trace.</summary>
internal sealed class BenchException : Exception
{
    public BenchException(string message)
        : base(message)
    {
    }

    public BenchException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public BenchException()
    {
    }
}
