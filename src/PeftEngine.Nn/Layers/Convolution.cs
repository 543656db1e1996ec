namespace PeftEngine.Nn;

/// <summary>
/// Convolution as im2col + matrix product, composed of differentiable ops (so gradients come from the
/// parts): the zero-padded input is cut into one strided view per kernel offset, the views are stacked into
/// columns, and each group's weight matrix multiplies its columns.
/// </summary>
/// <remarks>PyTorch: torch.nn.functional.conv2d / conv1d (cross-correlation, like PyTorch). Memory: the
/// columns hold C·kh·kw values per output position.</remarks>
public static class Convolution
{
    /// <summary>2-D convolution of x (N, C, H, W) with w (O, C/groups, kh, kw) and optional bias (O);
    /// returns (N, O, Ho, Wo) with Ho = (H + 2ph − dh(kh − 1) − 1) / sh + 1 (likewise Wo).</summary>
    public static Tensor Conv2d(Tensor x, Tensor w, Tensor? bias = null, (int H, int W)? stride = null,
        (int H, int W)? padding = null, (int H, int W)? dilation = null, int groups = 1)
    {
        var (sh, sw) = stride ?? (1, 1);
        var (ph, pw) = padding ?? (0, 0);
        var (dh, dw) = dilation ?? (1, 1);
        if (x.Rank != 4 || w.Rank != 4)
            throw new ArgumentException($"Conv2d: expected x (N, C, H, W) and weight (O, C/groups, kh, kw), got {x.Shape} and {w.Shape}");
        if (sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || ph < 0 || pw < 0 || groups <= 0)
            throw new ArgumentException($"Conv2d: stride ({sh}, {sw}) and dilation ({dh}, {dw}) must be positive, padding ({ph}, {pw}) non-negative, groups {groups} positive");
        int n = x.Shape[0], c = x.Shape[1], o = w.Shape[0], cg = w.Shape[1], kh = w.Shape[2], kw = w.Shape[3];
        if (c % groups != 0 || o % groups != 0 || cg != c / groups)
            throw new ArgumentException($"Conv2d: input {x.Shape} and weight {w.Shape} do not agree with {groups} groups (need C and O divisible by groups and weight dim 1 = C/groups)");
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != o))
            throw new ArgumentException($"Conv2d: bias must be ({o},), got {bias.Shape}");
        int hp = x.Shape[2] + 2 * ph, wp = x.Shape[3] + 2 * pw;
        int ho = (hp - dh * (kh - 1) - 1) / sh + 1, wo = (wp - dw * (kw - 1) - 1) / sw + 1;
        if (hp - dh * (kh - 1) - 1 < 0 || wp - dw * (kw - 1) - 1 < 0)
            throw new ArgumentException($"Conv2d: kernel ({kh}, {kw}) with dilation ({dh}, {dw}) is larger than the padded input ({hp}, {wp})");

        using var padded = Pad(x, ph, pw);                       // (N, C, Hp, Wp)
        var patches = new List<Tensor>(kh * kw);
        try
        {
            for (int i = 0; i < kh; i++)
                for (int j = 0; j < kw; j++)
                {
                    using var rows = Ops.Slice(padded, 2, i * dh, i * dh + sh * (ho - 1) + 1, sh);   // (N, C, Ho, Wp)
                    patches.Add(Ops.Slice(rows, 3, j * dw, j * dw + sw * (wo - 1) + 1, sw));        // (N, C, Ho, Wo)
                }
            using var stacked = Ops.Stack(patches, 2);                          // (N, C, kh·kw, Ho, Wo)
            using var cols = Ops.Reshape(stacked, n, groups, cg * kh * kw, ho * wo);   // (N, g, C/g·kh·kw, L)
            using var wm = Ops.Reshape(w, groups, o / groups, cg * kh * kw);    // (g, O/g, C/g·kh·kw)
            using var prod = Ops.MatMul(wm, cols);                              // (N, g, O/g, L)
            var y = Ops.Reshape(prod, n, o, ho, wo);                            // (N, O, Ho, Wo)
            if (bias is null) return y;
            using (y)
            using (var b3 = Ops.View(bias, o, 1, 1))                            // (O) -> (O, 1, 1)
                return Ops.Add(y, b3);
        }
        finally
        {
            foreach (var p in patches) p.Dispose();
        }
    }

    /// <summary>1-D convolution of x (N, C, L) with w (O, C/groups, k): a 2-D convolution with height 1.</summary>
    public static Tensor Conv1d(Tensor x, Tensor w, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1)
    {
        if (x.Rank != 3 || w.Rank != 3)
            throw new ArgumentException($"Conv1d: expected x (N, C, L) and weight (O, C/groups, k), got {x.Shape} and {w.Shape}");
        using var x4 = Ops.Unsqueeze(x, 2);   // (N, C, L) -> (N, C, 1, L)
        using var w4 = Ops.Unsqueeze(w, 2);   // (O, C/g, k) -> (O, C/g, 1, k)
        using var y4 = Conv2d(x4, w4, bias, (1, stride), (0, padding), (1, dilation), groups);   // (N, O, 1, Lo)
        return Ops.Squeeze(y4, 2);
    }

    /// <summary>Zero padding of the last two dimensions by (ph, pw) on each side.</summary>
    private static Tensor Pad(Tensor x, int ph, int pw)
    {
        var h = PadDim(x, 2, ph);
        using (h) return PadDim(h, 3, pw);
    }

    private static Tensor PadDim(Tensor x, int dim, int p)
    {
        if (p == 0) return Ops.View(x, x.Shape.ToArray());   // a recorded view: the graph must reach x
        var dims = x.Shape.ToArray();
        dims[dim] = p;
        using var zeros = Tensor.Zeros(new Shape(dims), x.DType, x.Device);
        return Ops.Cat([zeros, x, zeros], dim);
    }
}
