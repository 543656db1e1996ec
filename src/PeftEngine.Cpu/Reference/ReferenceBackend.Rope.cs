namespace PeftEngine.Cpu;

public sealed partial class ReferenceBackend
{
    public void Rotary(Tensor x, Tensor cos, Tensor sin, int positionOffset, RopeStyle style, bool inverse, Tensor y)
    {
        int t = x.Shape[-2], d = x.Shape[-1], half = cos.Shape[1];
        long rows = x.Numel / d;
        double sign = inverse ? -1 : 1;
        for (long r = 0; r < rows; r++)
        {
            long p = positionOffset + r % t;
            long xo = x.Offset + r * d, yo = y.Offset + r * d;
            for (int k = 0; k < half; k++)
            {
                // pair (ia, ib) rotated by θ (or -θ): (a, b) -> (a cos - b sin, a sin + b cos)
                int ia = style == RopeStyle.Interleaved ? 2 * k : k;
                int ib = style == RopeStyle.Interleaved ? 2 * k + 1 : k + half;
                double c = ReadAsDouble(cos, cos.Offset + p * half + k);
                double s = sign * ReadAsDouble(sin, sin.Offset + p * half + k);
                double a = ReadAsDouble(x, xo + ia), b = ReadAsDouble(x, xo + ib);
                WriteDouble(y, yo + ia, a * c - b * s);
                WriteDouble(y, yo + ib, a * s + b * c);
            }
            for (int j = 2 * half; j < d; j++) WriteDouble(y, yo + j, ReadAsDouble(x, xo + j));
        }
    }
}
