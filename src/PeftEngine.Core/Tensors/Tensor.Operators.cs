namespace PeftEngine;

public sealed partial class Tensor
{
    public static Tensor operator +(Tensor a, Tensor b) => Ops.Add(a, b);
    public static Tensor operator -(Tensor a, Tensor b) => Ops.Sub(a, b);
    public static Tensor operator *(Tensor a, Tensor b) => Ops.Mul(a, b);
    public static Tensor operator /(Tensor a, Tensor b) => Ops.Div(a, b);
    public static Tensor operator -(Tensor a) => Ops.Neg(a);
    public static Tensor operator +(Tensor a, double s) => Ops.Add(a, s);
    public static Tensor operator +(double s, Tensor a) => Ops.Add(a, s);
    public static Tensor operator -(Tensor a, double s) => Ops.Add(a, -s);
    public static Tensor operator *(Tensor a, double s) => Ops.Mul(a, s);
    public static Tensor operator *(double s, Tensor a) => Ops.Mul(a, s);
    public static Tensor operator /(Tensor a, double s) => Ops.Mul(a, 1.0 / s);

    /// <summary>A new view in another shape (see <see cref="Ops.Reshape"/>).</summary>
    public Tensor Reshape(params int[] shape) => Ops.Reshape(this, shape);

    /// <summary>A view in another shape that never copies (see <see cref="Ops.View"/>).</summary>
    public Tensor View(params int[] shape) => Ops.View(this, shape);

    /// <summary>Reordered dimensions (see <see cref="Ops.Permute"/>).</summary>
    public Tensor Permute(params int[] order) => Ops.Permute(this, order);

    /// <summary>Two dimensions swapped (see <see cref="Ops.Transpose"/>).</summary>
    public Tensor Transpose(int dim0, int dim1) => Ops.Transpose(this, dim0, dim1);

    /// <summary>A contiguous tensor with the same values (see <see cref="Ops.Contiguous"/>).</summary>
    public Tensor Contiguous() => Ops.Contiguous(this);

    /// <summary>The sum of all elements.</summary>
    public Tensor Sum() => Ops.Sum(this);

    /// <summary>The mean of all elements.</summary>
    public Tensor Mean() => Ops.Mean(this);

    /// <summary>This tensor converted to another dtype.</summary>
    public Tensor To(DType dtype) => Ops.Cast(this, dtype);

    /// <summary>This tensor copied to another device.</summary>
    public Tensor To(Device device) => Ops.ToDevice(this, device);
}
