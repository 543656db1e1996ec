namespace PeftEngine.Gpu.Kernels;

/// <summary>
/// Conversions between a kernel's compute type and double. Kernels are generic over T (float or double) and
/// take one of these as a second type argument, because generic-math conversions (T.CreateTruncating) do not
/// compile for the GPU; a call on <c>default(TR)</c> does, and is inlined.
/// </summary>
internal interface IReal<T>
{
    /// <summary>v rounded to T.</summary>
    T From(double v);

    /// <summary>v widened to double.</summary>
    double To(T v);
}

/// <summary>float as a compute type.</summary>
internal readonly struct F32 : IReal<float>
{
    public float From(double v) => (float)v;
    public double To(float v) => v;
}

/// <summary>double as a compute type.</summary>
internal readonly struct F64 : IReal<double>
{
    public double From(double v) => v;
    public double To(double v) => v;
}
