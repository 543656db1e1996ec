namespace PeftEngine.Cpu;

public sealed partial class ReferenceBackend
{
    public void Unary(UnaryOp op, Tensor x, Tensor y, double alpha = 0, double beta = 0)
    {
        var xs = ElementOffsets(x).ToArray();
        var ys = ElementOffsets(y).ToArray();
        for (long i = 0; i < xs.Length; i++)
            WriteDouble(y, ys[i], ScalarMath.Forward(op, ReadAsDouble(x, xs[i]), alpha, beta));
    }

    public void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx, double alpha = 0, double beta = 0)
    {
        var xs = ElementOffsets(x).ToArray();
        var gs = ElementOffsets(dy).ToArray();
        var ds = ElementOffsets(dx).ToArray();
        for (long i = 0; i < xs.Length; i++)
            WriteDouble(dx, ds[i], ReadAsDouble(dy, gs[i]) * ScalarMath.Derivative(op, ReadAsDouble(x, xs[i]), alpha, beta));
    }

    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y)
    {
        var aa = ElementOffsets(a).ToArray();
        var bb = ElementOffsets(b).ToArray();
        var yy = ElementOffsets(y).ToArray();
        for (long i = 0; i < yy.Length; i++)
            WriteDouble(y, yy[i], ScalarMath.Binary(op, ReadAsDouble(a, aa[i]), ReadAsDouble(b, bb[i])));
    }

    public void BinaryBackward(BinaryOp op, Tensor a, Tensor b, Tensor dy, Tensor? da, Tensor? db)
    {
        var aa = ElementOffsets(a).ToArray();
        var bb = ElementOffsets(b).ToArray();
        var gg = ElementOffsets(dy).ToArray();
        var outA = da is null ? null : ElementOffsets(da).ToArray();
        var outB = db is null ? null : ElementOffsets(db).ToArray();
        for (long i = 0; i < gg.Length; i++)
        {
            var (dA, dB) = ScalarMath.BinaryDerivatives(op, ReadAsDouble(a, aa[i]), ReadAsDouble(b, bb[i]));
            double g = ReadAsDouble(dy, gg[i]);
            if (outA is not null) WriteDouble(da!, outA[i], g * dA);
            if (outB is not null) WriteDouble(db!, outB[i], g * dB);
        }
    }
}
