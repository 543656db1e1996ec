namespace PeftEngine;

/// <summary>
/// Einstein summation over one to three operands, built from Permute, Reshape, Sum, Mul and MatMul, so its
/// gradient comes from theirs. Examples: "ij,jk->ik" (matrix product), "bij,bjk->bik" (batched),
/// "bhqd,bhkd->bhqk" (attention scores), "i,j->ij" (outer), "ij->ji" (transpose), "ij->i" (row sums),
/// "bi,ij,bj->b" (bilinear form).
/// </summary>
/// <remarks>
/// <para>PyTorch: torch.einsum. Operands are contracted left to right. In each pairwise step the letters fall
/// into four groups: batch (in both operands and still needed), contracted (in both, not needed later), and
/// the free letters of each side. The operands are permuted to (batch, free, contracted) and
/// (batch, contracted, free), the groups reshaped to single dimensions, and multiplied with MatMul.
/// A letter that only one operand has and nothing later needs is summed out first.</para>
/// <para>Not supported (each an error that says so): a letter repeated within one operand (diagonals,
/// traces such as "ii->"), the ellipsis "...", more than three operands, and size-1 broadcasting of a letter.</para>
/// </remarks>
public static partial class Ops
{
    /// <summary>Evaluates <paramref name="equation"/> (e.g. "bij,bjk->bik") on the operands. Without "->", the
    /// output holds the letters that appear exactly once, in alphabetical order.</summary>
    public static Tensor Einsum(string equation, params Tensor[] operands)
    {
        var (terms, output) = ParseEinsum(equation, operands);
        var sizes = new Dictionary<char, int>();
        for (int i = 0; i < operands.Length; i++)
            for (int d = 0; d < terms[i].Length; d++)
            {
                int size = operands[i].Shape[d];
                if (sizes.TryGetValue(terms[i][d], out int seen) && seen != size)
                    throw new ArgumentException($"Einsum \"{equation}\": letter '{terms[i][d]}' is {seen} in one place and {size} in operand {i} {operands[i].Shape}");
                sizes[terms[i][d]] = size;
            }

        var temps = new List<Tensor>(); // intermediate results, disposed at the end
        try
        {
            Tensor cur = operands[0];
            string curTerm = terms[0];
            for (int i = 1; i < operands.Length; i++)
            {
                // Letters still needed after this step: the output's and those of the operands to come.
                var keep = new HashSet<char>(output);
                for (int j = i + 1; j < operands.Length; j++) keep.UnionWith(terms[j]);
                (cur, curTerm) = Contract(cur, curTerm, operands[i], terms[i], keep, sizes, temps);
            }
            // Sum what the output does not name, then put the letters in output order.
            (cur, curTerm) = SumOutLetters(cur, curTerm, output.ToHashSet(), temps);
            return Permute(cur, output.Select(c => curTerm.IndexOf(c)).ToArray());
        }
        finally
        {
            foreach (var t in temps) t.Dispose();
        }
    }

    /// <summary>Multiplies two operands and sums their shared letters that <paramref name="keep"/> lacks.</summary>
    private static (Tensor, string) Contract(Tensor a, string ta, Tensor b, string tb, HashSet<char> keep,
        Dictionary<char, int> sizes, List<Tensor> temps)
    {
        // Letters of one side that neither the other side nor anything later needs: sum them now.
        (a, ta) = SumOutLetters(a, ta, keep.Union(tb).ToHashSet(), temps);
        (b, tb) = SumOutLetters(b, tb, keep.Union(ta).ToHashSet(), temps);
        string batch = new(ta.Where(c => tb.Contains(c) && keep.Contains(c)).ToArray());
        string summed = new(ta.Where(c => tb.Contains(c) && !keep.Contains(c)).ToArray());
        string freeA = new(ta.Where(c => !tb.Contains(c)).ToArray());
        string freeB = new(tb.Where(c => !ta.Contains(c)).ToArray());
        string resultTerm = batch + freeA + freeB;
        int[] Dims(string letters) => letters.Select(c => sizes[c]).ToArray();
        int Size(string letters) => letters.Aggregate(1, (s, c) => s * sizes[c]);

        Tensor Track(Tensor t)
        {
            temps.Add(t);
            return t;
        }

        if (summed.Length == 0)
        {
            // Nothing to sum: a broadcast elementwise product, (batch, freeA, 1...) * (batch, 1..., freeB).
            var aDims = Dims(batch + freeA).Concat(Enumerable.Repeat(1, freeB.Length)).ToArray();
            var bDims = Dims(batch).Concat(Enumerable.Repeat(1, freeA.Length)).Concat(Dims(freeB)).ToArray();
            var ap = Track(Permute(a, (batch + freeA).Select(c => ta.IndexOf(c)).ToArray()));
            var bp = Track(Permute(b, (batch + freeB).Select(c => tb.IndexOf(c)).ToArray()));
            var ar = Track(Reshape(ap, aDims));
            var br = Track(Reshape(bp, bDims));
            return (Track(Mul(ar, br)), resultTerm);
        }

        // (batch, freeA, summed) -> (batch..., M, K) and (batch, summed, freeB) -> (batch..., K, N)
        var aPerm = Track(Permute(a, (batch + freeA + summed).Select(c => ta.IndexOf(c)).ToArray()));
        var bPerm = Track(Permute(b, (batch + summed + freeB).Select(c => tb.IndexOf(c)).ToArray()));
        var aMat = Track(Reshape(aPerm, [.. Dims(batch), Size(freeA), Size(summed)]));
        var bMat = Track(Reshape(bPerm, [.. Dims(batch), Size(summed), Size(freeB)]));
        var product = Track(MatMul(aMat, bMat));                        // (batch..., M, N)
        var result = Track(Reshape(product, Dims(resultTerm)));         // -> (batch..., freeA..., freeB...)
        return (result, resultTerm);
    }

    /// <summary>Sums x over the letters of <paramref name="term"/> that are not in <paramref name="needed"/>.</summary>
    private static (Tensor, string) SumOutLetters(Tensor x, string term, HashSet<char> needed, List<Tensor> temps)
    {
        var dims = Enumerable.Range(0, term.Length).Where(d => !needed.Contains(term[d])).ToArray();
        if (dims.Length == 0) return (x, term);
        var summed = Sum(x, dims);
        temps.Add(summed);
        return (summed, new string(term.Where(needed.Contains).ToArray()));
    }

    private static (string[] Terms, string Output) ParseEinsum(string equation, Tensor[] operands)
    {
        string eq = new(equation.Where(c => !char.IsWhiteSpace(c)).ToArray());
        if (eq.Contains('.'))
            throw new NotSupportedException($"Einsum \"{equation}\": the ellipsis (...) is not supported; name every dimension");
        if (operands.Length is < 1 or > 3)
            throw new NotSupportedException($"Einsum \"{equation}\": {operands.Length} operands; 1 to 3 are supported");
        int arrow = eq.IndexOf("->", StringComparison.Ordinal);
        string lhs = arrow < 0 ? eq : eq[..arrow];
        var terms = lhs.Split(',');
        if (terms.Length != operands.Length)
            throw new ArgumentException($"Einsum \"{equation}\": {terms.Length} input terms for {operands.Length} operands");
        for (int i = 0; i < terms.Length; i++)
        {
            operands[i].ThrowIfDisposed($"Einsum operand {i}");
            if (terms[i].Any(c => !char.IsAsciiLetter(c)))
                throw new ArgumentException($"Einsum \"{equation}\": term \"{terms[i]}\" may only hold letters a-z, A-Z");
            if (terms[i].Length != operands[i].Rank)
                throw new ArgumentException($"Einsum \"{equation}\": term \"{terms[i]}\" names {terms[i].Length} dimensions but operand {i} is {operands[i].Shape}");
            if (terms[i].Distinct().Count() != terms[i].Length)
                throw new NotSupportedException($"Einsum \"{equation}\": a letter repeated within \"{terms[i]}\" (a diagonal or trace) is not supported");
            if (i > 0) CheckBinary(operands[0], operands[i], "Einsum");
        }
        string output;
        if (arrow >= 0)
        {
            output = eq[(arrow + 2)..];
            foreach (char c in output)
                if (!lhs.Contains(c))
                    throw new ArgumentException($"Einsum \"{equation}\": output letter '{c}' appears in no input");
            if (output.Distinct().Count() != output.Length)
                throw new ArgumentException($"Einsum \"{equation}\": a letter repeated in the output");
        }
        else
            output = new string(lhs.Where(char.IsAsciiLetter).GroupBy(c => c).Where(g => g.Count() == 1).Select(g => g.Key).Order().ToArray());
        return (terms, output);
    }
}
