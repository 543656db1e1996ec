namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// The BPE merge loop shared by the byte-level and SentencePiece tokenizers. A word starts as a list of symbols
/// (token ids, or -1 for a symbol outside the vocabulary); the adjacent pair with the best priority is merged
/// repeatedly until no pair can merge. Ties go to the leftmost pair.
/// </summary>
/// <remarks>
/// Symbols live in a doubly linked list over an array; candidate pairs sit in a priority queue keyed by
/// (priority, position). A popped pair is stale when either side has changed since it was queued; stale entries
/// are skipped. This is O(n log n) per word instead of the O(n^2) rescan of the textbook loop, which matters for
/// SentencePiece models where a whole sentence is one word.
/// </remarks>
internal static class BpeMerger
{
    /// <summary>
    /// Decides whether ids <paramref name="left"/> and <paramref name="right"/> merge: returns false when they
    /// don't, otherwise the merged id and a priority (lower merges first).
    /// </summary>
    public delegate bool TryMergeFn(int left, int right, out int merged, out double priority);

    private struct Symbol
    {
        public int Id;
        public int Prev;
        public int Next;
        public bool Alive;
    }

    /// <summary>Merges the symbols <paramref name="ids"/> (negative ids never merge) and returns the resulting ids.</summary>
    public static List<int> Merge(IReadOnlyList<int> ids, TryMergeFn tryMerge)
    {
        int n = ids.Count;
        var result = new List<int>(n);
        if (n == 0) return result;
        var sym = new Symbol[n];
        for (int i = 0; i < n; i++) sym[i] = new Symbol { Id = ids[i], Prev = i - 1, Next = i + 1 < n ? i + 1 : -1, Alive = true };

        // Queue entry: left position, right position, the two ids at queue time.
        var queue = new PriorityQueue<(int L, int R, int A, int B, int M), (double P, int Pos)>();
        void Consider(int l)
        {
            if (l < 0) return;
            int r = sym[l].Next;
            if (r < 0) return;
            int a = sym[l].Id, b = sym[r].Id;
            if (a < 0 || b < 0) return;
            if (tryMerge(a, b, out int m, out double p)) queue.Enqueue((l, r, a, b, m), (p, l));
        }
        for (int i = 0; i + 1 < n; i++) Consider(i);

        while (queue.TryDequeue(out var e, out _))
        {
            ref var left = ref sym[e.L];
            if (!left.Alive || left.Id != e.A || left.Next != e.R) continue;
            ref var right = ref sym[e.R];
            if (!right.Alive || right.Id != e.B) continue;
            // Merge right into left.
            left.Id = e.M;
            left.Next = right.Next;
            right.Alive = false;
            if (right.Next >= 0) sym[right.Next].Prev = e.L;
            Consider(left.Prev);
            Consider(e.L);
        }
        for (int i = 0; i >= 0; i = sym[i].Next) result.Add(sym[i].Id);
        return result;
    }
}
