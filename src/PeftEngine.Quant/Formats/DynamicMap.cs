namespace PeftEngine.Quant;

/// <summary>
/// bitsandbytes' signed "dynamic" 8-bit code: 256 sorted values in [-1, 1] whose spacing is fine near zero and
/// coarse near ±1, like a float with a variable number of exponent bits. It quantizes the block scales in double
/// quantization (QLoRA §3) and the values of 8-bit blockwise quantization.
/// </summary>
/// <remarks>
/// Construction (bitsandbytes <c>create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)</c>): for
/// i = 0..6, take the 2^i midpoints of <c>linspace(0.1, 1, 2^i + 1)</c>, scale them by 10^(i−6), and add them with
/// both signs; add 0 and 1; sort. Every step is done in float32 as PyTorch does it (its linspace fills the first half
/// from the start and the second half from the end; its vectorised kernels may differ in the last bit, so the table
/// equals bitsandbytes' to about one ulp). Checkpoints
/// store their own copy (<c>nested_quant_map</c>), which a loader always prefers.
/// </remarks>
public static class DynamicMap
{
    private static readonly float[] Signed = Build(signed: true);
    private static readonly float[] UnsignedTable = Build(signed: false);

    /// <summary>The 256 values, ascending: 127 negatives, 0 at index 127, 127 positives, 1 at index 255.</summary>
    public static ReadOnlySpan<float> Values => Signed;

    /// <summary>The unsigned variant (<c>create_dynamic_map(signed=False)</c>, bitsandbytes' "udynamic" code for the
    /// second moment of 8-bit Adam): 256 values ascending from 0 at index 0 to 1 at index 255, with twice as many
    /// steps per decade as the signed map since no sign is stored.</summary>
    public static ReadOnlySpan<float> UnsignedValues => UnsignedTable;

    /// <summary>The index of the value nearest to x (x already divided by its block's absmax); a value exactly
    /// half-way between two entries goes to the lower one.</summary>
    public static int Nearest(float x) => Nearest(Signed, x);

    /// <summary>The index of the entry of the ascending <paramref name="code"/> nearest to x, ties to the lower index.</summary>
    public static int Nearest(ReadOnlySpan<float> code, float x)
    {
        // Binary search for the first entry >= x, then compare with its lower neighbour.
        int lo = 0, hi = code.Length - 1;
        if (!(x > code[lo])) return lo;
        if (x >= code[hi]) return hi;
        while (hi - lo > 1)
        {
            int mid = (lo + hi) >> 1;
            if (code[mid] < x) lo = mid;
            else hi = mid;
        }
        // code[lo] < x <= code[hi]
        float midpoint = (code[lo] + code[hi]) / 2f;
        return x > midpoint ? hi : lo;
    }

    private static float[] Build(bool signed)
    {
        var data = new List<float>(256);
        const int maxExponentBits = 7;
        for (int i = 0; i < maxExponentBits; i++)
        {
            int items = (1 << (signed ? i : i + 1)) + 1;   // unsigned: the sign bit becomes one more fraction bit
            float[] boundaries = LinspaceF32(0.1f, 1f, items);
            float scale = (float)Math.Pow(10, -(maxExponentBits - 1) + i);
            for (int j = 0; j + 1 < items; j++)
            {
                float mean = (boundaries[j] + boundaries[j + 1]) / 2f;
                data.Add(scale * mean);
                if (signed) data.Add(-scale * mean);
            }
        }
        data.Add(0f);
        data.Add(1f);
        data.Sort();
        return data.ToArray();
    }

    /// <summary>float32 linspace as PyTorch computes it: the first half counts up from the start, the second half
    /// down from the end, both in steps of (end − start) / (steps − 1).</summary>
    private static float[] LinspaceF32(float start, float end, int steps)
    {
        var values = new float[steps];
        if (steps == 1)
        {
            values[0] = start;
            return values;
        }
        float step = (end - start) / (steps - 1);
        int halfway = steps / 2;
        for (int i = 0; i < steps; i++)
            values[i] = i < halfway ? start + step * i : end - step * (steps - i - 1);
        return values;
    }
}
