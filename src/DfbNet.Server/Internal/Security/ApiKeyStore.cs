using System.Security.Cryptography;
using System.Text;

namespace DfbNet.Server.Internal;

/// <summary>
/// The server's API keys, from <c>DfbNet:Auth:ApiKeys</c> and <c>DfbNet:Auth:ApiKeyFile</c>, held as SHA-256 digests:
/// a presented key is looked up by its digest, so neither the lookup's timing nor a memory dump shows a key.
/// </summary>
internal sealed class ApiKeyStore
{
    private readonly Dictionary<string, string> _namesByDigest;

    private ApiKeyStore(Dictionary<string, string> namesByDigest) => _namesByDigest = namesByDigest;

    public int Count => _namesByDigest.Count;

    /// <exception cref="InvalidOperationException">Naming the setting or the file and line: an unreadable file, an empty
    /// key, a name used twice, a key given twice.</exception>
    public static ApiKeyStore Load(DfbNetAuthOptions options)
    {
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, key) in options.ApiKeys)
        {
            Add(name, key, $"{DfbNetAuthOptions.SectionName}:ApiKeys:{name}");
        }

        if (!string.IsNullOrWhiteSpace(options.ApiKeyFile))
        {
            const string setting = DfbNetAuthOptions.SectionName + ":ApiKeyFile";
            string[] lines;
            try
            {
                lines = File.ReadAllLines(options.ApiKeyFile);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException($"{setting} '{options.ApiKeyFile}' cannot be read: {ex.Message}", ex);
            }

            for (var i = 0; i < lines.Length; i++)
            {
                var line = lines[i].Trim();
                if (line.Length == 0 || line[0] == '#')
                {
                    continue;
                }

                var colon = line.IndexOf(':', StringComparison.Ordinal);
                var (name, key) = colon < 0 ? ($"key-{i + 1}", line) : (line[..colon].Trim(), line[(colon + 1)..].Trim());
                Add(name, key, $"{setting} '{options.ApiKeyFile}' line {i + 1}");
            }
        }

        return new ApiKeyStore(keys);

        void Add(string name, string key, string where)
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                throw new InvalidOperationException($"{where}: the key has no name before its ':'.");
            }

            if (string.IsNullOrWhiteSpace(key) || key.Any(char.IsWhiteSpace))
            {
                throw new InvalidOperationException($"{where}: key '{name}' is empty or holds white space.");
            }

            if (!names.Add(name))
            {
                throw new InvalidOperationException($"{where}: the name '{name}' is used by another key.");
            }

            if (!keys.TryAdd(Digest(key), name))
            {
                throw new InvalidOperationException($"{where}: key '{name}' is the same as key '{keys[Digest(key)]}'.");
            }
        }
    }

    /// <summary>The name of the caller a key belongs to, or null for a key the server does not know.</summary>
    public string? Find(ReadOnlySpan<char> key) => _namesByDigest.GetValueOrDefault(Digest(key));

    private static string Digest(ReadOnlySpan<char> key)
    {
        Span<byte> utf8 = stackalloc byte[Math.Min(Encoding.UTF8.GetMaxByteCount(key.Length), 1024)];
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        if (Encoding.UTF8.TryGetBytes(key, utf8, out var written))
        {
            SHA256.HashData(utf8[..written], hash);
        }
        else
        {
            SHA256.HashData(Encoding.UTF8.GetBytes(key.ToString()), hash);
        }

        return Convert.ToHexString(hash);
    }
}
