namespace DfbNet.Cli.Import;

/// <summary>A file or option that <c>dfbnet import</c> cannot use; the message is the one line the user sees, naming it.</summary>
internal sealed class ImportException(string message) : Exception(message);
