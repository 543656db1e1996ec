namespace PeftEngine.Tests.Tokenizers;

/// <summary>
/// A fact that needs a file the repository cannot ship (a vocabulary under a non-permissive licence): it runs when
/// the named environment variable points at an existing file, and is reported as skipped, with the reason,
/// otherwise.
/// </summary>
public sealed class FactWhenFileGivenAttribute : FactAttribute
{
    public FactWhenFileGivenAttribute(string environmentVariable)
    {
        string? path = Environment.GetEnvironmentVariable(environmentVariable);
        if (string.IsNullOrEmpty(path) || !File.Exists(path))
            Skip = $"needs a file the repository does not ship: set {environmentVariable} to its path";
    }
}
