using PeftEngine.Cpu;

namespace PeftEngine.Tests;

/// <summary>
/// The fast GEMM against the reference triple loop. Tolerance, per element of c: the rounding-error bound of
/// a length-k dot product, (k + 2)·ε·(|alpha|·Σ_p |a_ip|·|b_pj| + |beta·c_ij|) + ε·|c_ij| (the last term for
/// rounding the double reference to the dtype), with ε = 2⁻²³ for f32 and 2⁻⁵² for f64.
/// </summary>
public class GemmTests
{
    /// <summary>How the operands are laid out in memory.</summary>
    public enum Layout
    {
        /// <summary>Row-major, as allocated.</summary>
        Contiguous,
        /// <summary>Views of transposed storage: unit stride down the columns.</summary>
        TransposedStorage,
        /// <summary>Every-other-element slices: no unit stride anywhere.</summary>
        Strided,
        /// <summary>One matrix expanded over the batch (batch stride 0) for a; b likewise in BroadcastB.</summary>
        BroadcastA,
        BroadcastB,
    }

    public static IEnumerable<object[]> Shapes()
    {
        int[][] sizes = [[1, 1, 1], [7, 13, 5], [33, 65, 17], [1, 40, 9], [9, 40, 1], [12, 1, 32], [100, 64, 8], [3, 100, 50], [129, 257, 67]];
        foreach (var dt in new[] { DType.F32, DType.F64 })
            foreach (var s in sizes)
                for (int t = 0; t < 4; t++)
                    yield return [dt, s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0];
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void OddSizesAndAllTransposesMatchReference(DType dtype, int m, int k, int n, bool transA, bool transB)
    {
        Check(dtype, 1, m, k, n, transA, transB, Layout.Contiguous, 1, 0);
        Check(dtype, 2, m, k, n, transA, transB, Layout.TransposedStorage, 1, 0);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void RandomShapesLayoutsAndScalarsMatchReference(DType dtype)
    {
        var rng = new Random(dtype == DType.F32 ? 11 : 12);
        var layouts = Enum.GetValues<Layout>();
        for (int i = 0; i < 25; i++)
        {
            int batch = rng.Next(1, 4), m = rng.Next(1, 80), k = rng.Next(1, 80), n = rng.Next(1, 80);
            double beta = rng.Next(3) switch { 0 => 0, 1 => 1, _ => -0.5 };
            Check(dtype, batch, m, k, n, rng.Next(2) == 1, rng.Next(2) == 1, layouts[rng.Next(layouts.Length)], 1 + rng.NextDouble(), beta);
        }
    }

    [Theory]
    [InlineData(DType.F32, Layout.Strided)]
    [InlineData(DType.F64, Layout.Strided)]
    [InlineData(DType.F32, Layout.BroadcastA)]
    [InlineData(DType.F64, Layout.BroadcastB)]
    [InlineData(DType.F32, Layout.BroadcastB)]
    public void StridedAndBroadcastBatchesMatchReference(DType dtype, Layout layout)
    {
        var rng = new Random(5);
        for (int i = 0; i < 6; i++)
        {
            int m = rng.Next(1, 40), k = rng.Next(1, 70), n = rng.Next(1, 50);
            Check(dtype, 3, m, k, n, i % 2 == 1, i % 3 == 1, layout, 1, 0);
        }
        Check(dtype, 4, 30, 20, 1, false, false, layout, 1, 0); // matrix-vector products over the batch
        Check(dtype, 4, 1, 20, 30, false, true, layout, 1, 0);
    }

    [Theory]
    [InlineData(DType.F32, 0.5, 1.0)]
    [InlineData(DType.F32, -2.0, 0.75)]
    [InlineData(DType.F64, 1.5, -1.0)]
    [InlineData(DType.F64, 1.0, 0.0)]
    public void AlphaAndBetaScaleAndAccumulate(DType dtype, double alpha, double beta)
    {
        Check(dtype, 2, 29, 31, 37, false, true, Layout.Contiguous, alpha, beta);
        Check(dtype, 1, 1, 31, 37, false, false, Layout.Contiguous, alpha, beta);
        Check(dtype, 1, 29, 31, 1, true, false, Layout.Contiguous, alpha, beta);
        Check(dtype, 1, 5, 0, 7, false, false, Layout.Contiguous, alpha, beta); // k = 0: c = beta · c
    }

    /// <summary>Shapes that cross the cache blocks (KC, MC and NC) and split over several threads.</summary>
    [Theory]
    [InlineData(DType.F32, 300, 1700, 333, false, false)] // three k blocks of 568 (a multiple of 8) and 564
    [InlineData(DType.F32, 257, 1000, 301, true, true)]
    [InlineData(DType.F64, 250, 530, 200, false, true)]
    [InlineData(DType.F32, 1000, 300, 20, false, true)] // narrow: dot-product blocks over threads
    [InlineData(DType.F32, 37, 1001, 16, false, true)]  // 4 x 6 blocks (6 + 6 + 4 columns), ragged rows, a tail of k
    [InlineData(DType.F64, 21, 333, 26, false, true)]   // 6 + 6 + 6 + 4 + 4 columns: a 4-column block at column 22
    [InlineData(DType.F64, 24, 700, 900, true, true)]
    [InlineData(DType.F32, 3, 5, 4200, false, false)] // wider than one NC block
    [InlineData(DType.F64, 3, 5, 4200, true, true)]
    public void LargeShapesCrossEveryBlockBoundary(DType dtype, int m, int k, int n, bool transA, bool transB)
    {
        Check(dtype, 1, m, k, n, transA, transB, Layout.Contiguous, 1, 0.5);
    }

    /// <summary>The narrower micro-kernels and dot-product blocks (chosen on CPUs without AVX-512) and the blocked
    /// path for matrix-vector shapes, pinned explicitly so they are tested on any CPU.</summary>
    [Theory]
    [InlineData((int)GemmIsa.V256, DType.F32)]
    [InlineData((int)GemmIsa.V256, DType.F64)]
    [InlineData((int)GemmIsa.V128, DType.F32)]
    [InlineData((int)GemmIsa.V128, DType.F64)]
    [InlineData((int)GemmIsa.Best, DType.F32)]
    public void EveryMicroKernelMatchesReference(int isaCode, DType dtype)
    {
        var isa = (GemmIsa)isaCode;
        Check(dtype, 2, 45, 300, 70, false, true, Layout.Contiguous, 1, 0, isa);
        Check(dtype, 2, 13, 17, 19, true, false, Layout.Strided, 1, 1, isa);
        Check(dtype, 3, 1, 33, 41, false, false, Layout.BroadcastB, 2, 0, isa, vectorPath: false);
        Check(dtype, 3, 41, 33, 1, true, false, Layout.Contiguous, 1, 0, isa, vectorPath: false);
        Check(dtype, 2, 37, 70, 11, false, true, Layout.Contiguous, 1, 0.5, isa); // 4 x 4 dot-product blocks
    }

    /// <summary>The products of a LoRA adapter: the gradient of A (few rows of C over a B stored by rows, the row
    /// form, with two chunks of k and a ragged last strip), the gradient of B (few columns of C over a transposed A:
    /// the row form of Cᵀ, written back through C's row stride), and the up-projection with a short k whose C is large
    /// enough to be written with streaming stores (ragged edge tiles included).</summary>
    [Theory]
    [InlineData(DType.F32, 8, 520, 700, true, false, 0.0)]     // dA = dhᵀ · x
    [InlineData(DType.F64, 16, 300, 333, true, false, 0.5)]
    [InlineData(DType.F32, 5, 40, 130, false, false, -1.0)]
    [InlineData(DType.F32, 16, 64, 300, true, false, 1.0)]      // C += dhᵀ · x (accumulating a gradient)
    [InlineData(DType.F32, 64, 300, 500, true, false, 0.0)]     // r = 64, the most rows the row form takes
    [InlineData(DType.F32, 500, 300, 48, true, false, 0.5)]     // dB at r = 48
    [InlineData(DType.F32, 6, 531, 700, true, false, 0.5)]     // rows and steps of k left over from groups of 4, ragged columns
    [InlineData(DType.F64, 7, 130, 301, true, false, 0.0)]
    [InlineData(DType.F32, 700, 520, 8, true, false, 0.0)]     // dB = dyᵀ · h
    [InlineData(DType.F64, 333, 300, 16, true, false, 0.5)]
    [InlineData(DType.F32, 333, 300, 16, true, false, 0.0)]    // dB through 8 x 8 transposes: 2 groups of 8 rows, 5 columns left
    [InlineData(DType.F32, 501, 300, 12, true, false, 0.0)]    // one group of 8 rows, 4 rows left element by element
    [InlineData(DType.F32, 601, 8, 2100, false, true, 0.0)]    // y = h · Bᵀ, C about 5 MiB: the outer form
    [InlineData(DType.F64, 301, 16, 1800, false, true, 0.0)]   // C about 4.3 MiB
    [InlineData(DType.F32, 601, 24, 2100, false, true, 0.0)]   // k past the outer form: C streamed by the blocked kernel
    [InlineData(DType.F32, 1100, 8, 4096, false, true, 0.0)]   // C of 17 MiB, past the outer form: streamed
    [InlineData(DType.F32, 8, 1100, 4096, true, false, 0.5)]   // dA with x of 17 MiB: the row form prefetches
    [InlineData(DType.F32, 4096, 1100, 8, true, false, 0.0)]   // dB with dy of 17 MiB
    public void LoraShapesMatchReference(DType dtype, int m, int k, int n, bool transA, bool transB, double beta)
    {
        Check(dtype, 1, m, k, n, transA, transB, Layout.Contiguous, 1, beta);
        Check(dtype, 2, m, k, n, transA, transB, Layout.Contiguous, 0.5, beta);
    }

    [Theory]
    [InlineData(DType.F32, 37, 8, 1100, false, true, 1.0, 0.0)]    // h · Bᵀ: two strips of 1024 (the last 76 wide)
    [InlineData(DType.F32, 130, 8, 2048, false, false, 1.0, 0.0)]  // dh · A, B stored by rows (no copy)
    [InlineData(DType.F32, 5, 16, 300, false, true, -1.5, 0.0)]    // alpha applied in place
    [InlineData(DType.F32, 66, 12, 700, true, true, 0.5, 1.0)]     // k not a multiple of 8; beta through the tile
    [InlineData(DType.F32, 3, 1, 130, false, true, 2.0, 0.5)]      // one step of k, fewer rows than a block
    [InlineData(DType.F32, 2, 4, 4100, true, false, 1.0, 0.0)]     // strips of 2048, a tail of 4 columns
    [InlineData(DType.F64, 41, 8, 520, false, true, 1.0, 0.0)]
    [InlineData(DType.F64, 9, 16, 333, true, true, 0.75, -1.0)]
    public void OuterFormMatchesReference(DType dtype, int m, int k, int n, bool transA, bool transB, double alpha, double beta)
    {
        Check(dtype, 1, m, k, n, transA, transB, Layout.Contiguous, alpha, beta);
        Check(dtype, 2, m, k, n, transA, transB, Layout.TransposedStorage, alpha, beta);
        Check(dtype, 2, m, k, n, transA, transB, Layout.Strided, alpha, beta);
    }

    [Theory]
    [InlineData(DType.F32, 301, 4100, 8, 1.0, 0.0)]   // 3 x 8 blocks: 4 stretches of 1024, groups of 8 row blocks (the last of each thread short), a row and 4 elements of k left over
    [InlineData(DType.F32, 130, 3000, 4, -0.5, 1.0)]  // 4 x 4 blocks: 2 stretches (1504 and 1488), a tail of 8
    [InlineData(DType.F32, 77, 2051, 6, 2.0, 0.5)]    // one 4 x 6 block per row block: 2 stretches of 1024, a tail of 3
    [InlineData(DType.F32, 90, 2050, 5, 1.0, 0.0)]    // 4 x 4 blocks over 8 columns, the last 3 past the edge; 2 stretches, a tail of 2
    [InlineData(DType.F64, 50, 2605, 4, 1.0, -1.0)]   // f64: 3 stretches (872, 872, 856), a tail of 5
    [InlineData(DType.F32, 64, 4096, 16, 1.0, 0.0)]   // too wide to cut into stretches: all of k at once
    [InlineData(DType.F32, 1100, 4100, 8, 1.0, 0.0)]  // x of 17 MiB: the 3 x 8 blocks prefetch the next block's rows
    public void DotFormStretchesMatchReference(DType dtype, int m, int k, int n, double alpha, double beta)
    {
        // x · Aᵀ with the narrow operand larger than one stretch; Strided copies both operands first.
        Check(dtype, 1, m, k, n, false, true, Layout.Contiguous, alpha, beta);
        Check(dtype, 2, m, k, n, false, true, Layout.Strided, alpha, beta);
    }

    [Fact]
    public void DotFormResultsDoNotDependOnBlockShapeOrStretches()
    {
        // The first columns of x · Aᵀ through 3 x 8 blocks in 4 stretches (8 columns), 4 x 4 blocks in 2 stretches
        // (4 columns) and 4 x 6 blocks over all of k (12 columns): each element is the same sum in the same order.
        const int m = 301, k = 4100;
        using var x = TestData.Uniform(1, new Shape(1, m, k), DType.F32);
        using var a = TestData.Uniform(2, new Shape(1, 12, k), DType.F32);
        var results = new Dictionary<int, float[]>();
        foreach (int n in new[] { 4, 8, 12 })
        {
            using var rows = Ops.Slice(a, 1, 0, n);
            using var c = Tensor.Empty(new Shape(1, m, n), DType.F32);
            CpuBackend.Instance.Gemm(x, rows, c, false, true);
            results[n] = c.ToArray<float>();
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < 8; j++)
            {
                float wide = results[12][i * 12 + j];
                Assert.Equal(wide, results[8][i * 8 + j]);
                if (j < 4) Assert.Equal(wide, results[4][i * 4 + j]);
            }
    }

    [Fact]
    public void StreamedAndCachedStoresOfCGiveTheSameBits()
    {
        // The same product with a single k block into an aligned C (streamed) and into a C that starts one element
        // past a 64-byte boundary (ordinary stores): the values must not differ. (k = 24 is past the outer form.)
        const int m = 601, k = 24, n = 2100;
        using var h = TestData.Uniform(1, new Shape(1, m, k), DType.F32);
        using var b = TestData.Uniform(2, new Shape(1, n, k), DType.F32);
        using var aligned = Tensor.Empty(new Shape(1, m, n), DType.F32);
        using var flat = Tensor.Zeros(new Shape(1 + m * n), DType.F32);
        using var tail = Ops.Slice(flat, 0, 1, 1 + m * n);
        using var shifted = Ops.Reshape(tail, 1, m, n);   // contiguous, offset 1 element
        Assert.True(shifted.IsContiguous && shifted.Offset % 16 != 0);
        CpuBackend.Instance.Gemm(h, b, aligned, false, true);
        CpuBackend.Instance.Gemm(h, b, shifted, false, true);
        Assert.Equal(aligned.ToArray<float>(), shifted.ToArray<float>());
    }

    [Fact]
    public void ResultsDoNotDependOnTheThreadCount()
    {
        foreach (var (m, k, n) in new[] { (300, 1700, 333), (1, 3000, 700), (700, 3000, 1), (2000, 300, 8), (700, 4100, 8), (8, 600, 700), (1000, 8, 1200), (333, 16, 1100) })
        {
            using var a = TestData.Uniform(1, new Shape(1, m, k), DType.F32);
            using var b = TestData.Uniform(2, new Shape(1, k, n), DType.F32);
            using var one = Tensor.Empty(new Shape(1, m, n), DType.F32);
            using var many = Tensor.Empty(new Shape(1, m, n), DType.F32);
            int threads = CpuParallel.Threads;
            try
            {
                CpuParallel.Threads = 1;
                CpuBackend.Instance.Gemm(a, b, one, false, false);
                CpuParallel.Threads = 3; // more threads than this machine may have: different splits, same sums
                CpuBackend.Instance.Gemm(a, b, many, false, false);
            }
            finally { CpuParallel.Threads = threads; }
            Assert.Equal(one.ToArray<float>(), many.ToArray<float>());
        }
    }

    [Fact]
    public void MismatchedOperandsAreClearErrors()
    {
        using var a = Tensor.Zeros(new Shape(1, 2, 3));
        using var b = Tensor.Zeros(new Shape(1, 4, 5));
        using var c = Tensor.Zeros(new Shape(1, 2, 5));
        var e = Assert.Throws<ArgumentException>(() => CpuBackend.Instance.Gemm(a, b, c, false, false));
        Assert.Contains("Gemm", e.Message);
        using var cd = Tensor.Zeros(new Shape(1, 2, 5), DType.F64);
        using var b2 = Tensor.Zeros(new Shape(1, 3, 5));
        Assert.Throws<ArgumentException>(() => CpuBackend.Instance.Gemm(a, b2, cd, false, false));
    }

    private static void Check(DType dtype, int batch, int m, int k, int n, bool transA, bool transB, Layout layout,
        double alpha, double beta, GemmIsa isa = GemmIsa.Best, bool vectorPath = true)
    {
        int seed = (((batch * 31 + m) * 31 + k) * 31 + n) * 8 + (transA ? 4 : 0) + (transB ? 2 : 0) + (int)layout * 1000;
        // The stored operands: op(a) is (m, k), op(b) is (k, n).
        using var a = Operand(seed, dtype, batch, transA ? k : m, transA ? m : k, layout, broadcast: layout == Layout.BroadcastA);
        using var b = Operand(seed + 1, dtype, batch, transB ? n : k, transB ? k : n, layout, broadcast: layout == Layout.BroadcastB);
        using var c0 = TestData.Uniform(seed + 2, new Shape(batch, m, n), dtype);
        using var fast = Ops.Clone(c0);
        RunFast(a, b, fast, transA, transB, alpha, beta, isa, vectorPath);

        using var aRef = a.To(Device.CpuReference);
        using var bRef = b.To(Device.CpuReference);
        using var expected = c0.To(Device.CpuReference);
        ReferenceBackend.Instance.Gemm(aRef, bRef, expected, transA, transB, alpha, beta);

        // Σ |a||b| per element, for the error bound.
        using var aAbs = Tensor.FromArray(aRef.ToDoubleArray().Select(Math.Abs).ToArray(), aRef.Shape.ToArray()).To(Device.CpuReference);
        using var bAbs = Tensor.FromArray(bRef.ToDoubleArray().Select(Math.Abs).ToArray(), bRef.Shape.ToArray()).To(Device.CpuReference);
        using var mag = Tensor.Empty(new Shape(batch, m, n), DType.F64, Device.CpuReference);
        ReferenceBackend.Instance.Gemm(aAbs, bAbs, mag, transA, transB, 1, 0);

        double eps = dtype == DType.F32 ? Math.Pow(2, -23) : Math.Pow(2, -52);
        var e = expected.ToDoubleArray();
        var got = fast.ToDoubleArray();
        var magnitude = mag.ToDoubleArray();
        var old = c0.ToDoubleArray();
        for (int i = 0; i < e.Length; i++)
        {
            double tol = (k + 2) * eps * (Math.Abs(alpha) * magnitude[i] + Math.Abs(beta * old[i])) + eps * Math.Abs(e[i]) + 1e-300;
            Assert.True(Math.Abs(e[i] - got[i]) <= tol,
                $"{dtype.Name()} batch {batch} m {m} k {k} n {n} transA {transA} transB {transB} {layout} {isa}: " +
                $"c[{i}] expected {e[i]:G10}, got {got[i]:G10} (tolerance {tol:E2})");
        }
    }

    private static void RunFast(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha, double beta, GemmIsa isa, bool vectorPath)
    {
        if (isa == GemmIsa.Best && vectorPath)
        {
            CpuBackend.Instance.Gemm(a, b, c, transA, transB, alpha, beta);
            return;
        }
        if (c.DType == DType.F32)
            Gemm<float>.Run(GemmShape.Args(a, b, c, transA, transB, (float)alpha, (float)beta), isa, vectorPath);
        else
            Gemm<double>.Run(GemmShape.Args(a, b, c, transA, transB, alpha, beta), isa, vectorPath);
    }

    /// <summary>A (batch, rows, cols) operand with the requested memory layout.</summary>
    private static Tensor Operand(int seed, DType dtype, int batch, int rows, int cols, Layout layout, bool broadcast)
    {
        if (broadcast)
        {
            using var one = TestData.Uniform(seed, new Shape(1, rows, cols), dtype);
            return Ops.Expand(one, batch, rows, cols); // batch stride 0
        }
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
            default:
                return TestData.Uniform(seed, new Shape(batch, rows, cols), dtype);
        }
    }
}
