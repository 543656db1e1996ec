namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// The GPT-2 byte-to-character table: every byte 0..255 gets a printable Unicode character so that byte strings
/// can be stored as ordinary vocabulary strings. Printable Latin-1 bytes map to themselves; the other 68 bytes
/// (controls, space, 0x7F-0xA0, 0xAD) map to U+0100, U+0101, ... in byte order. A space becomes 'Ġ' (U+0120).
/// </summary>
/// <remarks>Hugging Face equivalent: <c>bytes_to_unicode()</c> in GPT-2's tokenizer.</remarks>
public static class ByteLevelAlphabet
{
    private static readonly char[] ByteToCharTable = BuildTable();
    private static readonly Dictionary<char, byte> CharToByteTable = BuildInverse();

    private static char[] BuildTable()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    private static Dictionary<char, byte> BuildInverse()
    {
        var d = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++) d[ByteToCharTable[b]] = (byte)b;
        return d;
    }

    /// <summary>The character standing for byte <paramref name="b"/>.</summary>
    public static char ByteToChar(byte b) => ByteToCharTable[b];

    /// <summary>Maps UTF-8 bytes to their byte-level characters.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteToCharTable[bytes[i]];
        return new string(chars);
    }

    /// <summary>
    /// Appends the bytes a byte-level token string stands for. Characters outside the table (possible in added
    /// tokens) are appended as their UTF-8 encoding.
    /// </summary>
    public static void AppendBytes(string token, List<byte> output)
    {
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in token.EnumerateRunes())
        {
            if (rune.IsBmp && CharToByteTable.TryGetValue((char)rune.Value, out byte b))
            {
                output.Add(b);
                continue;
            }
            int n = rune.EncodeToUtf8(utf8);
            for (int i = 0; i < n; i++) output.Add(utf8[i]);
        }
    }
}
