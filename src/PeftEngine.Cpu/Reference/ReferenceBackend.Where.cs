namespace PeftEngine.Cpu;

public sealed partial class ReferenceBackend
{
    public void Where(Tensor cond, Tensor a, Tensor b, Tensor y)
    {
        var cc = ElementOffsets(cond).ToArray();
        var aa = ElementOffsets(a).ToArray();
        var bb = ElementOffsets(b).ToArray();
        var yy = ElementOffsets(y).ToArray();
        for (long i = 0; i < yy.Length; i++)
        {
            if (ReadAsDouble(cond, cc[i]) != 0) CopyElementBytes(a, aa[i], y, yy[i]);
            else CopyElementBytes(b, bb[i], y, yy[i]);
        }
    }

    public void Compare(CompareOp op, Tensor a, Tensor b, Tensor y)
    {
        var aa = ElementOffsets(a).ToArray();
        var bb = ElementOffsets(b).ToArray();
        var yy = ElementOffsets(y).ToArray();
        for (long i = 0; i < yy.Length; i++)
            WriteDouble(y, yy[i], ScalarMath.Compare(op, ReadAsDouble(a, aa[i]), ReadAsDouble(b, bb[i])) ? 1 : 0);
    }
}
