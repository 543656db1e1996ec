using System.Globalization;
using System.Text;

namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// Unicode canonical normalization (NFD and NFC) from a built-in table, used by tokenizers whose normalizer asks
/// for it (Qwen2: NFC; BERT's accent stripping: NFD). The engine runs in invariant-globalization mode, where
/// <c>string.Normalize</c> returns non-ASCII text unchanged, so the tokenizers do not rely on it.
/// </summary>
/// <remarks>Python equivalent: <c>unicodedata.normalize("NFC", s)</c>. Algorithm (UAX #15): fully decompose
/// (Hangul syllables algorithmically), sort each run of combining marks by combining class (stable), then
/// recompose each mark with the last starter unless a mark of equal or higher class, or another starter,
/// stands between them.</remarks>
internal static partial class UnicodeNormalization
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Dictionary<int, int[]> Decomp = new();
    private static readonly Dictionary<long, int> Compose = new();
    private static readonly Dictionary<int, int> Ccc = new();

    static UnicodeNormalization()
    {
        foreach (var entry in Decompositions.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = entry.IndexOf('=');
            int cp = Hex(entry.AsSpan(0, eq));
            string rhs = entry.Substring(eq + 1);
            bool primary = rhs.EndsWith('!');
            int[] parts = rhs.TrimEnd('!').Split(',').Select(p => Hex(p)).ToArray();
            Decomp[cp] = parts;
            if (primary) Compose[Key(parts[0], parts[1])] = cp;
        }
        foreach (var entry in CombiningClasses.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = entry.IndexOf('=');
            Ccc[Hex(entry.AsSpan(0, eq))] = int.Parse(entry.AsSpan(eq + 1), CultureInfo.InvariantCulture);
        }
    }

    private static int Hex(ReadOnlySpan<char> s) => int.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private static long Key(int a, int b) => ((long)a << 21) | (uint)b;

    private static int CombiningClass(int cp) => Ccc.TryGetValue(cp, out int c) ? c : 0;

    /// <summary>Whether <paramref name="text"/> is pure ASCII (ASCII is invariant under every normal form).</summary>
    private static bool IsAscii(string text) => Ascii.IsValid(text);

    /// <summary>Canonical decomposition (NFD).</summary>
    public static string Nfd(string text) => IsAscii(text) ? text : ToString(Decompose(text));

    /// <summary>Canonical composition (NFC).</summary>
    public static string Nfc(string text) => IsAscii(text) ? text : ToString(ComposeAll(Decompose(text)));

    private static List<int> Decompose(string text)
    {
        var cps = new List<int>(text.Length + 8);
        foreach (var rune in text.EnumerateRunes()) AppendDecomposed(rune.Value, cps);
        // Canonical ordering: stable insertion sort of each run of non-starters by combining class.
        for (int i = 1; i < cps.Count; i++)
        {
            int c = CombiningClass(cps[i]);
            if (c == 0) continue;
            int j = i;
            int cp = cps[i];
            while (j > 0 && CombiningClass(cps[j - 1]) > c)
            {
                cps[j] = cps[j - 1];
                j--;
            }
            cps[j] = cp;
        }
        return cps;
    }

    private static void AppendDecomposed(int cp, List<int> output)
    {
        if (cp >= SBase && cp < SBase + SCount)
        {
            int s = cp - SBase;
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) output.Add(TBase + s % TCount);
            return;
        }
        if (Decomp.TryGetValue(cp, out var parts))
        {
            foreach (int p in parts) AppendDecomposed(p, output);
            return;
        }
        output.Add(cp);
    }

    private static List<int> ComposeAll(List<int> cps)
    {
        var output = new List<int>(cps.Count);
        int starter = -1;
        int lastClass = 0;
        foreach (int cp in cps)
        {
            int cc = CombiningClass(cp);
            if (starter >= 0)
            {
                bool adjacent = output.Count - 1 == starter;
                bool unblocked = adjacent || (lastClass != 0 && lastClass < cc);
                if (unblocked && TryCompose(output[starter], cp, out int composed))
                {
                    output[starter] = composed;
                    continue;
                }
            }
            if (cc == 0) starter = output.Count;
            lastClass = cc;
            output.Add(cp);
        }
        return output;
    }

    private static bool TryCompose(int a, int b, out int composed)
    {
        if (a >= LBase && a < LBase + LCount && b >= VBase && b < VBase + VCount)
        {
            composed = SBase + ((a - LBase) * VCount + (b - VBase)) * TCount;
            return true;
        }
        if (a >= SBase && a < SBase + SCount && (a - SBase) % TCount == 0 && b > TBase && b < TBase + TCount)
        {
            composed = a + (b - TBase);
            return true;
        }
        return Compose.TryGetValue(Key(a, b), out composed);
    }

    private static string ToString(List<int> cps)
    {
        var sb = new StringBuilder(cps.Count);
        foreach (int cp in cps) sb.Append(char.ConvertFromUtf32(cp));
        return sb.ToString();
    }
}
