namespace PeftEngine.Quant;

/// <summary>
/// Symmetric absmax int8 quantization per row, the storage of LLM.int8() weights (Dettmers et al., arXiv 2208.07339):
/// <c>q[r, c] = round(127 · w[r, c] / s[r])</c> with <c>s[r] = max_c |w[r, c]|</c>, and <c>w ≈ q · s / 127</c>.
/// </summary>
/// <remarks>bitsandbytes: Int8Params (CB = the int8 matrix, SCB = the row scales). Rounding is half away from zero,
/// as CUDA's roundf.</remarks>
public static class RowwiseInt8
{
    /// <summary>Quantizes a (rows, cols) row-major matrix: returns the int8 matrix and the row scales.</summary>
    public static (sbyte[] Values, float[] RowScales) Quantize(ReadOnlySpan<float> w, int rows, int cols)
    {
        if ((long)rows * cols != w.Length)
            throw new ArgumentException($"RowwiseInt8: {w.Length} values are not a {rows}x{cols} matrix");
        var q = new sbyte[w.Length];
        var scales = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            var row = w.Slice(r * cols, cols);
            float max = 0f;
            foreach (float v in row) max = MathF.Max(max, MathF.Abs(v));
            scales[r] = max;
            float factor = max == 0 ? 0f : 127f / max;
            for (int c = 0; c < cols; c++)
                q[r * cols + c] = (sbyte)Math.Clamp(MathF.Round(row[c] * factor, MidpointRounding.AwayFromZero), -127, 127);
        }
        return (q, scales);
    }

    /// <summary>w[r, c] = q[r, c] · s[r] / 127.</summary>
    public static float[] Dequantize(ReadOnlySpan<sbyte> q, ReadOnlySpan<float> rowScales, int cols)
    {
        if (q.Length != rowScales.Length * cols)
            throw new ArgumentException($"RowwiseInt8: {q.Length} values do not make {rowScales.Length} rows of {cols}");
        var w = new float[q.Length];
        for (int i = 0; i < w.Length; i++) w[i] = q[i] * (rowScales[i / cols] / 127f);
        return w;
    }
}
