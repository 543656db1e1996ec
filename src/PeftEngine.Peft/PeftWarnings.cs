namespace PeftEngine.Peft;

/// <summary>
/// Where the PEFT layer reports things that are worth knowing but not errors (an unknown config key, a corrected
/// <c>fan_in_fan_out</c>, merging an adapter twice). By default warnings go to standard error; a
/// <see cref="Capture"/> scope collects them instead, for the current async flow only (tests run in parallel).
/// </summary>
/// <remarks>HF: Python's warnings.warn / logger.warning calls inside peft.</remarks>
public static class PeftWarnings
{
    private static readonly AsyncLocal<List<string>?> Captured = new();

    /// <summary>Reports <paramref name="message"/>.</summary>
    public static void Warn(string message)
    {
        if (Captured.Value is { } list) list.Add(message);
        else Console.Error.WriteLine("peft warning: " + message);
    }

    /// <summary>Collects the warnings of this async flow into the returned scope until it is disposed.</summary>
    public static WarningCapture Capture() => new(Captured);

    /// <summary>The warnings collected while the scope was open.</summary>
    public sealed class WarningCapture : IDisposable
    {
        private readonly AsyncLocal<List<string>?> _slot;
        private readonly List<string>? _previous;

        internal WarningCapture(AsyncLocal<List<string>?> slot)
        {
            _slot = slot;
            _previous = slot.Value;
            slot.Value = Messages;
        }

        /// <summary>The messages, in order.</summary>
        public List<string> Messages { get; } = new();

        /// <summary>Restores the previous destination.</summary>
        public void Dispose() => _slot.Value = _previous;
    }
}
