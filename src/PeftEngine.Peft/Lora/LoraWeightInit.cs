// LoRA initialised from the weight it adapts.
//
// PiSSA (Meng, Wang, Zhang, NeurIPS 2024, arXiv 2404.02948): with W = U S Vᵀ, the adapter takes the principal part
//   B = U_r √(S_r / s),  A = √(S_r / s) V_rᵀ,  so that s·B·A = U_r S_r V_rᵀ,
// and the frozen base keeps the residual W_res = W − s·B·A. Training then moves the principal directions.
// The "pissa_niter_N" variant finds U_r, S_r, V_r with a randomized SVD (N power iterations).
//
// LoftQ (Li et al., ICLR 2024, arXiv 2310.08659): alternately quantize and fit the quantization error,
//   Q_t = q_NF4(W − s·B_{t−1}·A_{t−1}),   s·B_t·A_t = best rank-r approximation of W − Q_t (by SVD),
// starting from A = B = 0; the base becomes Q_T (the NF4 weight, stored dequantized here so that quantizing the
// model afterwards reproduces exactly those codes) and Q_T + s·B·A ≈ W better than Q_T alone. The factors are
// divided by the scaling s, so Q + s·B·A approximates W for any lora_alpha (HF's loftq_init assumes s = 1).

using PeftEngine.Nn;
using PeftEngine.Quant;

namespace PeftEngine.Peft.Lora;

/// <summary>The weight-based initialisations of LoRA: PiSSA and LoftQ.</summary>
/// <remarks>HF: LoraLayer.pissa_init and LoraLayer.loftq_init (peft/utils/loftq_utils.py).</remarks>
internal static class LoraWeightInit
{
    /// <summary>Sets A, B and the base weight of <paramref name="adapter"/> on a Linear base.</summary>
    public static void Apply(LoraLinear layer, string adapter, int r, double scaling, LoraConfig config, Generator? generator)
    {
        if (layer.BaseLayer is not Linear linear)
            throw new NotSupportedException($"LoRA: init_lora_weights = {config.InitLoraWeights} needs a full-precision Linear base, not {layer.BaseLayer.GetType().Name}");
        using var _ = GradMode.Disable();
        using var w = Ops.Cast(linear.Weight, DType.F32);                 // (out, in)
        if (r > Math.Min(w.Shape[0], w.Shape[1]))
            throw new ArgumentException($"LoRA: rank {r} exceeds the smaller side of the {w.Shape} weight, which {config.InitLoraWeights} needs");
        var (a, b, newBase) = config.InitLoraWeights == LoraInit.Pissa
            ? Pissa(w, r, scaling, config.PissaNiter, generator)
            : Loftq(w, r, scaling, config.LoftqConfig.LoftqIter);
        using (a)
        using (b)
        using (newBase)
        {
            var (pa, pb) = layer.Factors(adapter);
            Ops.CopyInPlace(pa, a);                                        // (r, in)
            Ops.CopyInPlace(pb, b);                                        // (out, r)
            using var stored = Ops.Cast(newBase, linear.Weight.DType);
            Ops.CopyInPlace(linear.Weight, stored);
        }
    }

    /// <summary>The rank-r factors of w with s·B·A = U_r S_r V_rᵀ: A = √(S_r/s)·V_rᵀ (r, in), B = U_r·√(S_r/s) (out, r).</summary>
    private static (Tensor A, Tensor B) Factorize(Tensor w, int r, double scaling, int? niter, Generator? generator)
    {
        using var svd = niter is int n ? Linalg.RandomizedSvd(w, r, niter: n, generator: generator) : Linalg.Svd(w);
        using var u = Ops.Narrow(svd.U, 1, 0, r);                         // (out, k) -> (out, r)
        using var sr = Ops.Narrow(svd.S, 0, 0, r);                        // (r)
        using var vh = Ops.Narrow(svd.Vh, 0, 0, r);                       // (k, in) -> (r, in)
        using var scaled = Ops.Mul(sr, 1.0 / scaling);
        using var root = Ops.Sqrt(scaled);
        using var rootCol = Ops.Unsqueeze(root, 1);                       // (r) -> (r, 1)
        using var rootRow = Ops.Unsqueeze(root, 0);                       // (r) -> (1, r)
        var a = Ops.Mul(vh, rootCol);
        var b = Ops.Mul(u, rootRow);
        return (Contiguous(a), Contiguous(b));
    }

    private static Tensor Contiguous(Tensor t)
    {
        using (t) return Ops.Contiguous(t);
    }

    /// <summary>s·B·A as an (out, in) matrix.</summary>
    private static Tensor Product(Tensor a, Tensor b, double scaling)
    {
        using var ba = Ops.MatMul(b, a);                                  // (out, r) · (r, in) -> (out, in)
        return Ops.Mul(ba, scaling);
    }

    private static (Tensor A, Tensor B, Tensor Base) Pissa(Tensor w, int r, double scaling, int? niter, Generator? generator)
    {
        var (a, b) = Factorize(w, r, scaling, niter, generator);
        using var principal = Product(a, b, scaling);
        return (a, b, Ops.Sub(w, principal));                            // W_res = W − s·B·A
    }

    private static (Tensor A, Tensor B, Tensor Base) Loftq(Tensor w, int r, double scaling, int iterations)
    {
        Tensor? a = null, b = null, q = null;
        for (int t = 0; t < iterations; t++)
        {
            using var target = a is null ? Ops.Clone(w) : Residual(w, a, b!, scaling);   // W − s·B·A
            q?.Dispose();
            using (var packed = Blockwise4Bit.Quantize(target, FourBitType.Nf4, blockSize: 64, doubleQuant: false))
                q = Ops.Dequantize4Bit(packed);                            // Q_t
            using var error = Ops.Sub(w, q);                              // W − Q_t
            a?.Dispose();
            b?.Dispose();
            (a, b) = Factorize(error, r, scaling, niter: null, generator: null);
        }
        return (a!, b!, q!);
    }

    private static Tensor Residual(Tensor w, Tensor a, Tensor b, double scaling)
    {
        using var product = Product(a, b, scaling);
        return Ops.Sub(w, product);
    }
}
