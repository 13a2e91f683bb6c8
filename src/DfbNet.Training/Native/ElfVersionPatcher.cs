using System.Buffers.Binary;
using System.Text;

namespace DfbNet.Training.Native;

/// <summary>
/// Marks one symbol-version requirement of an ELF64 shared library as weak (<c>VER_FLG_WEAK</c>), so that the
/// dynamic loader only warns when the version is missing instead of refusing the library. Used on a copy of
/// TorchSharp's <c>libLibTorchSharp.so</c>, built with GCC 13, whose single <c>GLIBCXX_3.4.32</c> reference
/// (<c>std::ios_base_library_init()</c>) Debian 12's libstdc++ cannot satisfy.
/// </summary>
internal static class ElfVersionPatcher
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>Sets <c>VER_FLG_WEAK</c> on every <c>vernaux</c> entry named <paramref name="version"/>.</summary>
    /// <returns>How many entries were changed (0 when already weak or absent).</returns>
    /// <exception cref="InvalidDataException">The bytes are not a little-endian ELF64 file or its tables are out of range.</exception>
    public static int MarkVersionWeak(byte[] elf, string version)
    {
        ArgumentNullException.ThrowIfNull(elf);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
        {
            throw new InvalidDataException("Not an ELF file.");
        }

        if (elf[4] != 2 || elf[5] != 1)
        {
            throw new InvalidDataException("Only little-endian ELF64 files are supported.");
        }

        var span = elf.AsSpan();
        var shoff = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(span[0x28..]));
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3A..]);
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3C..]);
        var wanted = Encoding.ASCII.GetBytes(version);
        var changed = 0;
        for (var i = 0; i < shnum; i++)
        {
            var sh = Slice(span, shoff + (i * shentsize), 64);
            if (BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]) != ShtGnuVerneed)
            {
                continue;
            }

            var offset = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(sh[0x18..]));
            var link = (int)BinaryPrimitives.ReadUInt32LittleEndian(sh[0x28..]);
            var count = (int)BinaryPrimitives.ReadUInt32LittleEndian(sh[0x2C..]);
            var strtab = Slice(span, shoff + (link * shentsize), 64);
            var strOffset = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(strtab[0x18..]));

            // Verneed entries (16 bytes) chain by vn_next; each owns a chain of Vernaux entries (16 bytes) by vna_next.
            var vn = offset;
            for (var n = 0; n < count; n++)
            {
                var verneed = Slice(span, vn, 16);
                int auxCount = BinaryPrimitives.ReadUInt16LittleEndian(verneed[2..]);
                var aux = vn + (int)BinaryPrimitives.ReadUInt32LittleEndian(verneed[8..]);
                for (var a = 0; a < auxCount; a++)
                {
                    var vernaux = Slice(span, aux, 16);
                    var name = strOffset + (int)BinaryPrimitives.ReadUInt32LittleEndian(vernaux[8..]);
                    if (NameEquals(span, name, wanted))
                    {
                        var flags = BinaryPrimitives.ReadUInt16LittleEndian(vernaux[4..]);
                        if ((flags & VerFlgWeak) == 0)
                        {
                            BinaryPrimitives.WriteUInt16LittleEndian(span.Slice(aux + 4, 2), (ushort)(flags | VerFlgWeak));
                            changed++;
                        }
                    }

                    aux += (int)BinaryPrimitives.ReadUInt32LittleEndian(vernaux[12..]);
                }

                vn += (int)BinaryPrimitives.ReadUInt32LittleEndian(verneed[12..]);
            }
        }

        return changed;
    }

    private static Span<byte> Slice(Span<byte> span, int start, int length) =>
        start < 0 || start > span.Length - length
            ? throw new InvalidDataException($"ELF table at offset {start} runs past the end of the file ({span.Length} bytes).")
            : span.Slice(start, length);

    private static bool NameEquals(ReadOnlySpan<byte> span, int offset, ReadOnlySpan<byte> wanted) =>
        offset >= 0 && offset + wanted.Length < span.Length
        && span.Slice(offset, wanted.Length).SequenceEqual(wanted)
        && span[offset + wanted.Length] == 0;
}
