namespace PeftEngine;

/// <summary>
/// Turns graph recording off for a block: <c>using (GradMode.Disable()) { ... }</c>. Used for evaluation,
/// generation, optimizer steps and inside backward itself.
/// </summary>
/// <remarks>PyTorch: torch.no_grad(). Per thread; blocks nest.</remarks>
public static class GradMode
{
    [ThreadStatic] private static int _disabledDepth;

    /// <summary>True when ops record the graph on this thread.</summary>
    public static bool IsEnabled => _disabledDepth == 0;

    /// <summary>Disables recording until the returned handle is disposed.</summary>
    public static IDisposable Disable()
    {
        _disabledDepth++;
        return new Restore();
    }

    /// <summary>Re-enables recording inside a disabled block (used by gradient checkpointing).</summary>
    public static IDisposable Enable()
    {
        int saved = _disabledDepth;
        _disabledDepth = 0;
        return new RestoreTo(saved);
    }

    private sealed class Restore : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _disabledDepth--;
        }
    }

    private sealed class RestoreTo(int depth) : IDisposable
    {
        public void Dispose() => _disabledDepth = depth;
    }
}
