namespace PeftEngine.Quant;

/// <summary>
/// Rows of F32 activations rounded to int8 blocks, the other operand of an integer dot product with packed ggml
/// weights. Each block of <see cref="ScaleBlock"/> values gets one float scale d = max|x| / 127 and codes
/// q = round(x / d) in [−127, 127] (ties to even); each run of 32 codes also records its sum Σq, which the Q4_K
/// product needs for the block minimums.
/// <code>
/// Q8_0 and Q4_0 weights: scale blocks of 32 (ggml's Q8_0 activation blocks)
/// Q4_K weights:          scale blocks of 256 (ggml's Q8_K), sums per 32-element sub-block
/// </code>
/// </summary>
/// <remarks>llama.cpp: quantize_row_q8_0 / quantize_row_q8_K (vec_dot_type of the weight type). Unlike ggml's Q8_0
/// the scale is kept in F32 rather than F16, which removes one rounding.</remarks>
public sealed class ActivationBlocks
{
    /// <summary>Elements per stored sum.</summary>
    public const int SumBlock = 32;

    private ActivationBlocks(int rows, int cols, int scaleBlock)
    {
        Rows = rows;
        Cols = cols;
        ScaleBlock = scaleBlock;
        Codes = new sbyte[(long)rows * cols];
        Scales = new float[(long)rows * cols / scaleBlock];
        Sums = new int[(long)rows * cols / SumBlock];
    }

    /// <summary>Rows of activations.</summary>
    public int Rows { get; }

    /// <summary>Values per row.</summary>
    public int Cols { get; }

    /// <summary>Elements sharing one scale (32 or 256).</summary>
    public int ScaleBlock { get; }

    /// <summary>Codes, row after row.</summary>
    public sbyte[] Codes { get; }

    /// <summary>One scale per block of <see cref="ScaleBlock"/> values.</summary>
    public float[] Scales { get; }

    /// <summary>Σq of each run of 32 codes.</summary>
    public int[] Sums { get; }

    /// <summary>Quantizes <paramref name="rows"/> rows of <paramref name="cols"/> values (row-major) into blocks of
    /// <paramref name="scaleBlock"/> (cols must be a multiple of it).</summary>
    public static ActivationBlocks Quantize(ReadOnlySpan<float> x, int rows, int cols, int scaleBlock)
    {
        if (scaleBlock is not (32 or 256) || cols % scaleBlock != 0 || x.Length != (long)rows * cols)
            throw new ArgumentException($"ActivationBlocks: {x.Length} values as ({rows}, {cols}) in blocks of {scaleBlock}");
        var a = new ActivationBlocks(rows, cols, scaleBlock);
        int blocks = rows * cols / scaleBlock;
        for (int b = 0; b < blocks; b++)
        {
            var v = x.Slice(b * scaleBlock, scaleBlock);
            float amax = 0;
            foreach (float f in v) amax = MathF.Max(amax, MathF.Abs(f));
            float d = amax / 127f, id = d != 0 ? 1f / d : 0f;
            a.Scales[b] = d;
            var q = a.Codes.AsSpan(b * scaleBlock, scaleBlock);
            for (int i = 0; i < scaleBlock; i++) q[i] = (sbyte)MathF.Round(v[i] * id);
            for (int s = 0; s < scaleBlock / SumBlock; s++)
            {
                int sum = 0;
                for (int i = 0; i < SumBlock; i++) sum += q[s * SumBlock + i];
                a.Sums[b * scaleBlock / SumBlock + s] = sum;
            }
        }
        return a;
    }

    /// <summary>The activation block size ggml pairs with a weight type: 256 for Q4_K, 32 otherwise.</summary>
    public static int ScaleBlockFor(IO.Gguf.GgmlType type) => type == IO.Gguf.GgmlType.Q4_K ? 256 : 32;
}
