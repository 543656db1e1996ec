using PeftEngine.Cpu;

namespace PeftEngine.Tests;

/// <summary>
/// GEMM with bf16 / f16 operands and an f32 result: the fast kernel (which widens 16-bit values while packing)
/// against the reference computed on the same values widened to f32 first, which is exact. Tolerance per element
/// as in <see cref="GemmTests"/>: (k + 2)·ε·(|alpha|·Σ_p |a_ip|·|b_pj| + |beta·c_ij|) + ε·|c_ij|, ε = 2⁻²³.
/// </summary>
public class GemmMixedPrecisionTests
{
    public enum Layout { Contiguous, TransposedStorage, Strided, BroadcastB }

    public static IEnumerable<object[]> Cases()
    {
        // (dtype of a, dtype of b): one 16-bit operand on either side, or both.
        (DType, DType)[] pairs =
        [
            (DType.BF16, DType.F32), (DType.F32, DType.BF16), (DType.BF16, DType.BF16),
            (DType.F16, DType.F32), (DType.F32, DType.F16), (DType.F16, DType.BF16),
        ];
        foreach (var (da, db) in pairs)
            for (int t = 0; t < 4; t++)
                yield return [da, db, (t & 1) != 0, (t & 2) != 0];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AllTransposesMatchTheWidenedReference(DType da, DType db, bool transA, bool transB)
    {
        Check(da, db, 1, 7, 13, 5, transA, transB, Layout.Contiguous, 1, 0);
        Check(da, db, 1, 70, 800, 90, transA, transB, Layout.Contiguous, 1, 0);   // crosses KC, runs on the threads
        Check(da, db, 2, 29, 40, 37, transA, transB, Layout.TransposedStorage, 1.5, 0.5);
        Check(da, db, 3, 17, 33, 41, transA, transB, Layout.Strided, 1, 1);       // no unit stride anywhere, batched
        Check(da, db, 3, 25, 19, 30, transA, transB, Layout.BroadcastB, -0.5, 0); // b shared by the batch
        Check(da, db, 2, 1, 64, 50, transA, transB, Layout.Contiguous, 1, 0);     // matrix-vector shapes
        Check(da, db, 2, 50, 64, 1, transA, transB, Layout.Contiguous, 1, 0);
    }

    /// <summary>The bias added in the GEMM's write-back, on every path: the blocked kernels (12 x 2 and 24 x 1
    /// vectors, edge tiles, several k blocks), the narrow dot-product and matrix-vector forms, and k = 0.</summary>
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void FusedBiasIsAddedToEveryRow(DType dtype)
    {
        foreach (var (m, k, n, transB, beta) in new[]
                 {
                     (70, 300, 90, false, 0.0), (50, 40, 33, true, 1.0), (100, 300, 12, false, 0.5), (45, 20, 7, true, 0.0),
                     (60, 64, 20, true, 0.0), (1, 64, 50, false, 1.0), (50, 64, 1, false, 0.0), (9, 0, 11, false, 0.5),
                 })
        {
            int seed = m * 1000 + n;
            using var a = TestData.Uniform(seed, new Shape(2, m, k), dtype);
            using var b = TestData.Uniform(seed + 1, transB ? new Shape(2, n, k) : new Shape(2, k, n), dtype);
            using var bias = TestData.Uniform(seed + 2, new Shape(n), dtype);
            using var c0 = TestData.Uniform(seed + 3, new Shape(2, m, n), dtype);
            using var fast = Ops.Clone(c0);
            CpuBackend.Instance.Gemm(a, b, fast, false, transB, 1.5, beta, bias);
            using var expected = c0.To(Device.CpuReference);
            using var aRef = a.To(Device.CpuReference);
            using var bRef = b.To(Device.CpuReference);
            using var biasRef = bias.To(Device.CpuReference);
            ReferenceBackend.Instance.Gemm(aRef, bRef, expected, false, transB, 1.5, beta, biasRef);
            double tol = dtype == DType.F32 ? 1e-4 : 1e-12;
            TestData.AssertClose(expected.ToDoubleArray(), fast.ToDoubleArray(), tol, tol, $"{dtype.Name()} m {m} k {k} n {n} beta {beta}");
        }
    }

    [Fact]
    public void LinearWithABf16WeightGivesF32AndTheInputsGradient()
    {
        using var x = TestData.Uniform(1, new Shape(4, 5, 37), DType.F32).RequireGrad(); // (B, T, in)
        using var w16 = TestData.Uniform(2, new Shape(50, 37), DType.BF16);               // (out, in), frozen
        using var bias = TestData.Uniform(3, new Shape(50), DType.F32).RequireGrad();
        using var r = TestData.Uniform(4, new Shape(4, 5, 50), DType.F32);
        using var y = Ops.Linear(x, w16, bias);
        Assert.Equal(DType.F32, y.DType);
        using (var loss = Ops.Sum(Ops.Mul(y, r))) loss.Backward();

        // The same layer with the weight widened to f32 beforehand, on the reference backend.
        using var xr = x.Detach().To(Device.CpuReference).RequireGrad();
        using var w32 = w16.To(DType.F32);
        using var wr = w32.To(Device.CpuReference);
        using var br = bias.Detach().To(Device.CpuReference).RequireGrad();
        using var rr = r.To(Device.CpuReference);
        using var yr = Ops.Linear(xr, wr, br);
        using (var loss = Ops.Sum(Ops.Mul(yr, rr))) loss.Backward();

        TestData.AssertClose(yr.ToDoubleArray(), y.ToDoubleArray(), 1e-5, 1e-5, "y");
        TestData.AssertClose(xr.Grad!.ToDoubleArray(), x.Grad!.ToDoubleArray(), 1e-5, 1e-5, "dx");
        TestData.AssertClose(br.Grad!.ToDoubleArray(), bias.Grad!.ToDoubleArray(), 1e-4, 1e-5, "dbias");
        Assert.Null(w16.Grad);
    }

    [Fact]
    public void MatMulWithAnF16OperandGivesF32AndTheF32OperandsGradient()
    {
        using var a16 = TestData.Uniform(5, new Shape(3, 20, 30), DType.F16);
        using var b = TestData.Uniform(6, new Shape(30, 40), DType.F32).RequireGrad();
        using var y = Ops.MatMul(a16, b); // (3, 20, 30) · (30, 40) -> (3, 20, 40)
        Assert.Equal(DType.F32, y.DType);
        using (var loss = Ops.Sum(y)) loss.Backward();

        using var ar = a16.To(DType.F32).To(Device.CpuReference);
        using var br = b.Detach().To(Device.CpuReference).RequireGrad();
        using var yr = Ops.MatMul(ar, br);
        using (var loss = Ops.Sum(yr)) loss.Backward();
        TestData.AssertClose(yr.ToDoubleArray(), y.ToDoubleArray(), 1e-5, 1e-5, "y");
        TestData.AssertClose(br.Grad!.ToDoubleArray(), b.Grad!.ToDoubleArray(), 1e-4, 1e-5, "db");
    }

    [Fact]
    public void ASixteenBitOperandThatRequiresGradIsAnError()
    {
        using var x = TestData.Uniform(7, new Shape(3, 8), DType.F32);
        using var w = TestData.Uniform(8, new Shape(4, 8), DType.BF16).RequireGrad();
        var e = Assert.Throws<ArgumentException>(() => Ops.Linear(x, w));
        Assert.Contains("frozen", e.Message);
        Assert.Throws<ArgumentException>(() => Ops.MatMul(x, Ops.Transpose(w, 0, 1)));
        using (GradMode.Disable())
        using (var y = Ops.Linear(x, w)) // no graph is recorded, so nothing would need the gradient
            Assert.Equal(DType.F32, y.DType);
    }

    [Fact]
    public void F64AndTwoSixteenBitOperandsDoNotMix()
    {
        using var x64 = TestData.Uniform(9, new Shape(3, 8), DType.F64);
        using var w16 = TestData.Uniform(10, new Shape(4, 8), DType.BF16);
        using var x16 = TestData.Uniform(11, new Shape(3, 8), DType.F16);
        Assert.Contains("do not mix", Assert.Throws<ArgumentException>(() => Ops.Linear(x64, w16)).Message);
        Assert.Contains("do not mix", Assert.Throws<ArgumentException>(() => Ops.Linear(x16, w16)).Message);
        using var c64 = Tensor.Empty(new Shape(1, 3, 4), DType.F64);
        using var a3 = Ops.Unsqueeze(x64, 0);
        using var b3 = Ops.Unsqueeze(w16, 0);
        Assert.Throws<ArgumentException>(() => CpuBackend.Instance.Gemm(a3, b3, c64, false, true));
    }

    private static void Check(DType da, DType db, int batch, int m, int k, int n, bool transA, bool transB, Layout layout, double alpha, double beta)
    {
        int seed = ((m * 31 + k) * 31 + n) * 8 + (transA ? 4 : 0) + (transB ? 2 : 0) + (int)layout * 1000 + (int)da * 17 + (int)db;
        using var a = Operand(seed, da, batch, transA ? k : m, transA ? m : k, layout == Layout.BroadcastB ? Layout.Contiguous : layout);
        using var b = Operand(seed + 1, db, batch, transB ? n : k, transB ? k : n, layout);
        using var c0 = TestData.Uniform(seed + 2, new Shape(batch, m, n), DType.F32);
        using var fast = Ops.Clone(c0);
        CpuBackend.Instance.Gemm(a, b, fast, transA, transB, alpha, beta);

        // The reference on the widened values (f32 holds every bf16 and f16 value exactly).
        using var aWide = a.To(DType.F32);
        using var bWide = b.To(DType.F32);
        using var aRef = aWide.To(Device.CpuReference);
        using var bRef = bWide.To(Device.CpuReference);
        using var expected = c0.To(Device.CpuReference);
        ReferenceBackend.Instance.Gemm(aRef, bRef, expected, transA, transB, alpha, beta);
        using var aAbs = Tensor.FromArray(aRef.ToDoubleArray().Select(Math.Abs).ToArray(), aRef.Shape.ToArray()).To(Device.CpuReference);
        using var bAbs = Tensor.FromArray(bRef.ToDoubleArray().Select(Math.Abs).ToArray(), bRef.Shape.ToArray()).To(Device.CpuReference);
        using var mag = Tensor.Empty(new Shape(batch, m, n), DType.F64, Device.CpuReference);
        ReferenceBackend.Instance.Gemm(aAbs, bAbs, mag, transA, transB, 1, 0);

        double eps = Math.Pow(2, -23);
        var e = expected.ToDoubleArray();
        var got = fast.ToDoubleArray();
        var magnitude = mag.ToDoubleArray();
        var old = c0.ToDoubleArray();
        for (int i = 0; i < e.Length; i++)
        {
            double tol = (k + 2) * eps * (Math.Abs(alpha) * magnitude[i] + Math.Abs(beta * old[i])) + eps * Math.Abs(e[i]) + 1e-30;
            Assert.True(Math.Abs(e[i] - got[i]) <= tol,
                $"a {da.Name()} b {db.Name()} batch {batch} m {m} k {k} n {n} transA {transA} transB {transB} {layout}: " +
                $"c[{i}] expected {e[i]:G10}, got {got[i]:G10} (tolerance {tol:E2})");
        }
    }

    /// <summary>A (batch, rows, cols) operand of the given dtype and layout.</summary>
    private static Tensor Operand(int seed, DType dtype, int batch, int rows, int cols, Layout layout)
    {
        switch (layout)
        {
            case Layout.TransposedStorage:
            {
                using var stored = TestData.Uniform(seed, new Shape(batch, cols, rows), dtype);
                return Ops.Transpose(stored, 1, 2);
            }
            case Layout.Strided:
            {
                using var big = TestData.Uniform(seed, new Shape(2 * batch, rows + 3, 2 * cols + 1), dtype);
                using var everyOther = Ops.Slice(big, 0, 0, 2 * batch, 2);
                using var rowsCut = Ops.Slice(everyOther, 1, 2, 2 + rows);
                return Ops.Slice(rowsCut, 2, 1, 1 + 2 * cols, 2);
            }
            case Layout.BroadcastB:
            {
                using var one = TestData.Uniform(seed, new Shape(1, rows, cols), dtype);
                return Ops.Expand(one, batch, rows, cols); // batch stride 0
            }
            default:
                return TestData.Uniform(seed, new Shape(batch, rows, cols), dtype);
        }
    }
}
