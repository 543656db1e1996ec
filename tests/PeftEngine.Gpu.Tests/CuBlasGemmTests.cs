using ILGPU.Runtime;
using PeftEngine.Gpu;
using PeftEngine.Gpu.Kernels;

namespace PeftEngine.Tests;

/// <summary>
/// What of the cuBLAS path can be checked without a GPU: the row-major to column-major argument mapping (run
/// through a host column-major gemm with BLAS semantics), the choice between cuBLAS and our kernel, and the
/// bias prologue kernel.
/// </summary>
public class CuBlasGemmTests
{
    private static MatrixLayout RowMajor(long rowStride, long offset = 0) => new() { Offset = offset, Row = rowStride, Col = 1 };
    private static MatrixLayout ColMajor(long colStride, long offset = 0) => new() { Offset = offset, Row = 1, Col = colStride };

    [Fact]
    public void ContiguousOperandsGiveTheKnownRowMajorRecipes()
    {
        int m = 5, n = 7, k = 3;
        // op(A) = A (m, k) row-major, op(B) = B (k, n) row-major: gemm(N, N, n, m, k, B, n, A, k, C, n)
        Assert.Equal(new ColumnMajorGemm(false, false, n, m, k, n, k, n), ColumnMajorGemm.Map(m, n, k, RowMajor(k), RowMajor(n)));
        // A stored (k, m), used transposed: its op has unit row stride and column stride m
        Assert.Equal(new ColumnMajorGemm(false, true, n, m, k, n, m, n), ColumnMajorGemm.Map(m, n, k, ColMajor(m), RowMajor(n)));
        // B stored (n, k), used transposed (a Linear layer's weight)
        Assert.Equal(new ColumnMajorGemm(true, false, n, m, k, k, k, n), ColumnMajorGemm.Map(m, n, k, RowMajor(k), ColMajor(k)));
        Assert.Equal(new ColumnMajorGemm(true, true, n, m, k, k, m, n), ColumnMajorGemm.Map(m, n, k, ColMajor(m), ColMajor(k)));
    }

    [Fact]
    public void OperandsWithoutAUnitStrideAreNotMapped()
    {
        var strided = new MatrixLayout { Row = 8, Col = 2 };
        Assert.Null(ColumnMajorGemm.Map(3, 4, 4, strided, RowMajor(4)));
        Assert.Null(ColumnMajorGemm.Map(3, 4, 4, RowMajor(4), strided));
        // a leading dimension shorter than the rows it must skip is not BLAS-valid either
        Assert.Null(ColumnMajorGemm.Map(3, 4, 5, RowMajor(2), RowMajor(4)));
    }

    /// <summary>Every transpose combination, padded leading dimensions, offsets and size-1 dimensions: the mapped
    /// call, evaluated as a column-major BLAS gemm would, gives the row-major product.</summary>
    [Theory]
    [InlineData(5, 7, 3)]
    [InlineData(1, 6, 4)]
    [InlineData(4, 1, 5)]
    [InlineData(3, 4, 1)]
    [InlineData(1, 1, 1)]
    public void MappedCallComputesTheRowMajorProductForEveryLayout(int m, int n, int k)
    {
        var rng = new Random(m * 100 + n * 10 + k);
        var memA = Enumerable.Range(0, 512).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var memB = Enumerable.Range(0, 512).Select(_ => rng.NextDouble() - 0.5).ToArray();
        foreach (var a in Layouts(m, k, offset: 3))
            foreach (var b in Layouts(k, n, offset: 5))
            {
                var call = ColumnMajorGemm.Map(m, n, k, a, b);
                Assert.True(call.HasValue, $"layouts A {a} B {b} should map");
                var c = call!.Value;
                Assert.Equal((n, m, k, Math.Max(1, n)), (c.M, c.N, c.K, c.Ldc));
                // BLAS's own argument checks
                Assert.True(c.LdFirst >= Math.Max(1, c.TransFirst ? c.K : c.M), $"ldb {c.LdFirst} for {c}");
                Assert.True(c.LdSecond >= Math.Max(1, c.TransSecond ? c.N : c.K), $"lda {c.LdSecond} for {c}");
                var got = BlasGemm(c, memB, b.Offset, memA, a.Offset);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                    {
                        double expected = 0;
                        for (int l = 0; l < k; l++) expected += memA[a.Offset + i * a.Row + l * a.Col] * memB[b.Offset + l * b.Row + j * b.Col];
                        Assert.Equal(expected, got[i * n + j], 12);
                    }
            }
    }

    /// <summary>op(X) (rows × cols) stored row-major or column-major, tight or with a padded leading dimension.</summary>
    private static IEnumerable<MatrixLayout> Layouts(int rows, int cols, long offset)
    {
        yield return RowMajor(cols, offset);
        yield return RowMajor(cols + 3, offset);
        yield return ColMajor(rows, offset);
        yield return ColMajor(rows + 2, offset);
    }

    /// <summary>C (column-major, M × N, ldc) = op(first) · op(second) exactly as BLAS defines it.</summary>
    private static double[] BlasGemm(ColumnMajorGemm c, double[] first, long firstOff, double[] second, long secondOff)
    {
        var result = new double[c.Ldc * c.N];
        for (int i = 0; i < c.M; i++)
            for (int j = 0; j < c.N; j++)
            {
                double acc = 0;
                for (int l = 0; l < c.K; l++)
                {
                    double x = c.TransFirst ? first[firstOff + l + i * c.LdFirst] : first[firstOff + i + l * c.LdFirst];
                    double y = c.TransSecond ? second[secondOff + j + l * c.LdSecond] : second[secondOff + l + j * c.LdSecond];
                    acc += x * y;
                }
                result[i + j * c.Ldc] = acc;
            }
        return result;
    }

    [Fact]
    public void SelectionPrefersCuBlasOnlyOnCudaWhenItLoads()
    {
        Func<bool> mustNotProbe = () => throw new InvalidOperationException("cuBLAS probed where it cannot apply");
        Assert.Equal(GemmLibrary.Own, GemmSelection.Choose(AcceleratorType.CPU, null, mustNotProbe));
        Assert.Equal(GemmLibrary.Own, GemmSelection.Choose(AcceleratorType.OpenCL, "auto", mustNotProbe));
        Assert.Equal(GemmLibrary.CuBlas, GemmSelection.Choose(AcceleratorType.Cuda, null, () => true));
        Assert.Equal(GemmLibrary.Own, GemmSelection.Choose(AcceleratorType.Cuda, "", () => false));
        // forcing our kernel never loads cuBLAS
        Assert.Equal(GemmLibrary.Own, GemmSelection.Choose(AcceleratorType.Cuda, "own", mustNotProbe));
        Assert.Equal(GemmLibrary.Own, GemmSelection.Choose(AcceleratorType.Cuda, " OWN ", mustNotProbe));
        Assert.Equal(GemmLibrary.CuBlas, GemmSelection.Choose(AcceleratorType.Cuda, "cublas", () => true));
        var missing = Assert.Throws<InvalidOperationException>(() => GemmSelection.Choose(AcceleratorType.Cuda, "cublas", () => false));
        Assert.Contains("could not be loaded", missing.Message);
        Assert.Throws<InvalidOperationException>(() => GemmSelection.Choose(AcceleratorType.CPU, "cublas", mustNotProbe));
        var bad = Assert.Throws<ArgumentException>(() => GemmSelection.Choose(AcceleratorType.Cuda, "fast", () => true));
        Assert.Contains(GemmSelection.Variable, bad.Message);
    }

    [Fact]
    public void TheCpuAcceleratorUsesOurKernelAndRefusesCuBlas()
    {
        var backend = GpuParity.Backend;
        if (backend.Accelerator.AcceleratorType != AcceleratorType.CPU) return;   // on a real device the choice is the device's
        Assert.Equal(GemmLibrary.Own, backend.GemmLibrary);
        Assert.False(backend.CuBlasAvailable);
        Assert.Throws<InvalidOperationException>(() => backend.GemmLibrary = GemmLibrary.CuBlas);
        Assert.Equal(GemmLibrary.Own, backend.GemmLibrary);
        backend.GemmLibrary = GemmLibrary.Own;
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.5)]
    public void BiasPrologueWritesBetaTimesCPlusBias(double beta)
    {
        var dev = GpuParity.Device;
        int rows = 6, n = 5;
        using var c0 = TestData.Uniform(90, new Shape(rows, n), DType.F64);
        using var bias = TestData.Uniform(91, new Shape(n), DType.F64);
        using var c = c0.To(dev);
        using var biasD = bias.To(dev);
        if (beta == 0) GpuParity.Backend.Fill(c, double.NaN);   // beta 0 must not read c
        GpuParity.Backend.GemmBiasPrologue(c, biasD, beta);
        var before = c0.ToArray<double>();
        var b = bias.ToArray<double>();
        var got = c.ToArray<double>();
        for (int i = 0; i < rows * n; i++) Assert.Equal(beta * before[i] + b[i % n], got[i], 14);
    }
}
