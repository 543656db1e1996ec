namespace PeftEngine.Tests;

/// <summary>The layout kernels every other kernel relies on: strided copy, fill, and the row walker.</summary>
public class CopyKernelTests
{
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    [InlineData(DType.BF16)]
    [InlineData(DType.I64)]
    public void StridedCopiesMatchReference(DType dtype)
    {
        var x = TestData.Uniform(1, new Shape(37, 29, 41), DType.F64, -100, 100);
        using var typed = x.To(dtype);
        // permuted, sliced with a step, and broadcast views: every copy path of the fast kernel
        TestData.AssertMatchesReference(t => Ops.Contiguous(Ops.Permute(t[0], 2, 0, 1)), [typed], atol: 0, rtol: 0);
        TestData.AssertMatchesReference(t => Ops.Contiguous(Ops.Slice(Ops.Transpose(t[0], 0, 2), 1, 3, 28, 4)), [typed], atol: 0, rtol: 0);
        using var row = Ops.Select(typed, 0, 5);   // (29, 41)
        TestData.AssertMatchesReference(t => Ops.Contiguous(Ops.Expand(Ops.Unsqueeze(t[0], 0), 31, 29, 41)), [row], atol: 0, rtol: 0);
    }

    [Fact]
    public void FillWritesOnlyTheView()
    {
        using var x = Tensor.Zeros(new Shape(6, 5), DType.F64);
        using (var col = Ops.Slice(x, 1, 1, 5, 2)) Ops.FillInPlace(col, 7);   // columns 1 and 3
        var v = x.ToArray<double>();
        for (int r = 0; r < 6; r++)
            for (int c = 0; c < 5; c++)
                Assert.Equal(c is 1 or 3 ? 7.0 : 0.0, v[r * 5 + c]);
    }

    [Fact]
    public void RowLayoutMergesBackToBackDimensions()
    {
        using var x = Tensor.Zeros(new Shape(4, 6, 8), DType.F32);
        Assert.Equal(1, RowLayout.Of(x).RowCount);                    // contiguous: one row of 192
        Assert.Equal(192, RowLayout.Of(x).RowLength);
        using var bias = Tensor.Zeros(new Shape(8), DType.F32);
        using var b = Ops.Expand(bias, 4, 6, 8);
        var plan = RowLayout.Of(x, b);                                  // (4*6) rows of 8, bias stride 1
        Assert.Equal(24, plan.RowCount);
        Assert.Equal(new long[] { 1, 1 }, plan.InnerStrides);
        Assert.Equal(0, plan.Offset(1, 17));                            // every bias row starts at element 0
        Assert.Equal(17 * 8, plan.Offset(0, 17));
        using var t = Ops.Transpose(x, 1, 2);                            // (4, 8, 6) with strides (48, 1, 8)
        var tp = RowLayout.Of(t);
        Assert.Equal(8, tp.InnerStrides[0]);
        Assert.Equal(32, tp.RowCount);
    }

    [Fact]
    public unsafe void TheAllocatorReusesFreedBlocks()
    {
        var alloc = new HostAllocator();
        var first = new HostStorage(Device.Cpu, alloc, 4_000_000);
        var p = (IntPtr)first.Pointer;
        first.AddRef();
        first.Release();                                   // back to the cache
        Assert.Equal(0, alloc.BytesInUse);
        // 4,000,000 bytes round up to 16 steps of 2^21 / 8 = 4,194,304 (large blocks come in 8 steps per power of two).
        Assert.Equal(4_194_304, alloc.BytesCached);
        var second = new HostStorage(Device.Cpu, alloc, 4_100_000);   // a slightly different size shares the block
        Assert.Equal(p, (IntPtr)second.Pointer);           // the same block again
        Assert.Equal(0, alloc.BytesCached);
        Assert.Equal(0, (long)second.Pointer % 64);        // aligned for AVX-512
        second.AddRef();
        second.Release();
        alloc.EmptyCache();
        Assert.Equal(0, alloc.BytesCached);
    }
}
