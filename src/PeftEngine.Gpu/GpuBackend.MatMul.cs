using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using PeftEngine.Gpu.Kernels;

namespace PeftEngine.Gpu;

public sealed partial class GpuBackend
{
    private readonly object _blasLock = new();
    private bool _blasProbed;
    private CuBlas? _cuBlas;
    private GemmLibrary? _gemmLibrary;

    /// <summary>Why cuBLAS could not be loaded (null when it was, or when it was never tried).</summary>
    public string? CuBlasError { get; private set; }

    /// <summary>Whether cuBLAS can be used on this device: a CUDA accelerator and a loadable cuBLAS library,
    /// probed once.</summary>
    public bool CuBlasAvailable => LoadCuBlas() is not null;

    /// <summary>
    /// The GEMM used for F32 and F64 operands: at first use, cuBLAS on a CUDA device when it loads, else our own
    /// kernel; the environment variable <c>PEFTENGINE_GPU_GEMM</c> (<c>own</c>, <c>cublas</c>, <c>auto</c>) overrides
    /// the choice, and so does setting this property (setting <see cref="GemmLibrary.CuBlas"/> where it is not
    /// available throws). BF16/F16 operands always use our kernel.
    /// </summary>
    /// <remarks>PyTorch: torch.backends.cuda.preferred_blas_library.</remarks>
    public GemmLibrary GemmLibrary
    {
        get => _gemmLibrary ??= GemmSelection.Choose(Accelerator.AcceleratorType, Environment.GetEnvironmentVariable(GemmSelection.Variable), () => CuBlasAvailable);
        set => _gemmLibrary = GemmSelection.Choose(Accelerator.AcceleratorType, value == GemmLibrary.Own ? "own" : "cublas", () => CuBlasAvailable);
    }

    /// <summary>The cuBLAS handle bound to this backend's stream, created on first call; null off CUDA or when
    /// the library cannot be loaded (the reason is kept in <see cref="CuBlasError"/>).</summary>
    private CuBlas? LoadCuBlas()
    {
        lock (_blasLock)
        {
            if (_blasProbed) return _cuBlas;
            _blasProbed = true;
            if (Accelerator is not CudaAccelerator cuda) return null;
            try
            {
                _cuBlas = new CuBlas(cuda) { Stream = (CudaStream)Stream };
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException
                                          or TypeInitializationException or CuBlasException or InvalidOperationException)
            {
                CuBlasError = e.Message;
            }
            return _cuBlas;
        }
    }

    private void DisposeCuBlas()
    {
        lock (_blasLock)
        {
            _cuBlas?.Dispose();
            _cuBlas = null;
        }
    }

    public void Gemm(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha = 1, double beta = 0, Tensor? bias = null)
    {
        RequireCompute(c, "Gemm");
        RequireContiguous(c, "Gemm");
        CheckOperand(a, c.DType);
        CheckOperand(b, c.DType);
        if (c.DType == DType.F32) GemmT<float, F32>(a, b, c, transA, transB, alpha, beta, bias);
        else GemmT<double, F64>(a, b, c, transA, transB, alpha, beta, bias);
    }

    /// <summary>An operand has c's dtype, or is BF16/F16 with an F32 c (widened as the kernel reads it).</summary>
    private static void CheckOperand(Tensor x, DType output)
    {
        if (x.DType == output || (output == DType.F32 && x.DType is DType.BF16 or DType.F16)) return;
        throw new ArgumentException($"Gemm: operand dtype {x.DType.Name()} does not go with an output of {output.Name()}");
    }

    private void GemmT<T, TR>(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha, double beta, Tensor? bias)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        int batch = c.Shape[0], m = c.Shape[1], n = c.Shape[2];
        int k = transA ? a.Shape[1] : a.Shape[2];
        if (c.Numel == 0) return;
        var al = Layout(a, transA);
        var bl = Layout(b, transB);
        if (a.DType == c.DType && b.DType == c.DType && GemmLibrary == GemmLibrary.CuBlas && ColumnMajorGemm.Map(m, n, k, al, bl) is { } call)
        {
            CuBlasGemm<T>(a, al, b, bl, c, call, alpha, beta, bias);
            return;
        }
        // a square group of tx × tx threads (the kernel maps thread t to row t / tx and column t % tx)
        int tx = (int)Math.Sqrt(GroupSize), threads = tx * tx;
        int tileM = tx * GemmKernel.Block, tileN = tx * GemmKernel.Block;
        long tiles = (long)batch * ((m + tileM - 1) / tileM) * ((n + tileN - 1) / tileN);
        var kern = Kernel("gemm", typeof(T), acc => acc.LoadStreamKernel<ArrayView<byte>, MatrixLayout, ArrayView<byte>, MatrixLayout, ArrayView<T>,
            ArrayView<T>, int, int, int, int, int, T, T, int>(GemmKernel.Gemm<T, TR>));
        TR r = default;
        var config = new KernelConfig((int)Math.Clamp(tiles, 1, MaxGroups * 4L), threads);
        kern(config, View<byte>(a), al, View<byte>(b), bl, Data<T>(c), Data<T>(bias, c), bias is null ? 0 : 1,
            batch, m, n, k, r.From(alpha), r.From(beta), tx);
    }

    /// <summary>One cuBLAS gemm per batch entry (a strided loop), after a prologue c = beta·c + bias when there is a bias.</summary>
    private void CuBlasGemm<T>(Tensor a, MatrixLayout al, Tensor b, MatrixLayout bl, Tensor c, ColumnMajorGemm call, double alpha, double beta, Tensor? bias)
        where T : unmanaged
    {
        var blas = LoadCuBlas()!;
        if (bias is not null)
        {
            GemmBiasPrologue(c, bias, beta);
            beta = 1;
        }
        var (va, vb, vc) = (View<T>(a), View<T>(b), Data<T>(c));
        var (opFirst, opSecond) = (Op(call.TransFirst), Op(call.TransSecond));
        long cStride = (long)call.M * call.N;
        for (int t = 0; t < c.Shape[0]; t++)
        {
            long offB = bl.Offset + t * bl.Batch, offA = al.Offset + t * al.Batch;
            var first = vb.SubView(offB, vb.Length - offB);
            var second = va.SubView(offA, va.Length - offA);
            var dst = vc.SubView(t * cStride, cStride);
            if (typeof(T) == typeof(float))
                blas.Gemm(opFirst, opSecond, call.M, call.N, call.K, (float)alpha, first.Cast<float>(), call.LdFirst,
                    second.Cast<float>(), call.LdSecond, (float)beta, dst.Cast<float>(), call.Ldc);
            else
                blas.Gemm(opFirst, opSecond, call.M, call.N, call.K, alpha, first.Cast<double>(), call.LdFirst,
                    second.Cast<double>(), call.LdSecond, beta, dst.Cast<double>(), call.Ldc);
        }
    }

    /// <summary>c = beta · c + bias (bias added to every row; c not read when beta is 0), before a library GEMM with beta 1.</summary>
    internal void GemmBiasPrologue(Tensor c, Tensor bias, double beta)
    {
        if (c.Numel == 0) return;
        if (c.DType == DType.F32) BiasPrologueT<float, F32>(c, bias, beta);
        else BiasPrologueT<double, F64>(c, bias, beta);
    }

    private void BiasPrologueT<T, TR>(Tensor c, Tensor bias, double beta) where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        TR r = default;
        var kern = Kernel("gemmBiasPrologue", typeof(T), acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, long, int, T>(GemmKernel.BiasPrologue));
        kern(Linear(c.Numel), Data<T>(c), Data<T>(bias), c.Numel, c.Shape[-1], r.From(beta));
    }

    private static CuBlasOperation Op(bool trans) => trans ? CuBlasOperation.Transpose : CuBlasOperation.NonTranspose;

    /// <summary>op(x) as (batch, rows, cols) strides: the transpose swaps the last two.</summary>
    private static MatrixLayout Layout(Tensor x, bool trans)
    {
        var s = x.Strides;
        long batch = x.Shape[0] == 1 ? 0 : s[0];
        return trans
            ? new MatrixLayout { Offset = x.Offset, Batch = batch, Row = s[2], Col = s[1], DType = (int)x.DType }
            : new MatrixLayout { Offset = x.Offset, Batch = batch, Row = s[1], Col = s[2], DType = (int)x.DType };
    }
}
