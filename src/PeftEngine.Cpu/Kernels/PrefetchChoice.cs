namespace PeftEngine.Cpu;

/// <summary>
/// Whether a kernel prefetches the data it will need next, given as a type argument
/// (<c>Kernel&lt;WithPrefetch&gt;</c> or <c>Kernel&lt;WithoutPrefetch&gt;</c>): the JIT compiles each choice as its
/// own copy of the kernel and drops the untaken branch, so the loop without prefetches carries no trace of them.
/// Prefetching pays when the streamed operand comes from memory and costs when it is already in cache (the
/// prefetched lines evict what the kernel is reusing, and the extra instructions share the load ports).
/// </summary>
internal interface IPrefetchChoice
{
    /// <summary>True to prefetch.</summary>
    static abstract bool On { get; }
}

/// <summary>The kernel prefetches.</summary>
internal readonly struct WithPrefetch : IPrefetchChoice
{
    public static bool On => true;
}

/// <summary>The kernel does not prefetch.</summary>
internal readonly struct WithoutPrefetch : IPrefetchChoice
{
    public static bool On => false;
}
