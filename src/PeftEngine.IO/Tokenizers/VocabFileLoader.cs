using System.Text.Json;

namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// Loaders for the original vocabulary files: GPT-2's <c>encoder.json</c> + <c>vocab.bpe</c> and BERT's
/// <c>vocab.txt</c>.
/// </summary>
/// <remarks>Hugging Face equivalent: <c>GPT2Tokenizer(vocab_file, merges_file)</c> and <c>BertTokenizer(vocab_file)</c>.</remarks>
public static class VocabFileLoader
{
    /// <summary>GPT-2 end-of-text token, which is BOS, EOS and (by convention) padding.</summary>
    public const string Gpt2EndOfText = "<|endoftext|>";

    /// <summary>Loads GPT-2 from encoder.json (token to id) and vocab.bpe (a version line, then one merge per line).</summary>
    public static ByteLevelBpeTokenizer LoadGpt2(string encoderJsonPath, string vocabBpePath)
    {
        using var enc = File.OpenRead(encoderJsonPath);
        using var bpe = File.OpenRead(vocabBpePath);
        return LoadGpt2(enc, bpe);
    }

    /// <summary>Loads GPT-2 from streams of encoder.json and vocab.bpe.</summary>
    public static ByteLevelBpeTokenizer LoadGpt2(Stream encoderJson, Stream vocabBpe)
    {
        var vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(encoderJson)
            ?? throw new InvalidDataException("encoder.json: empty document.");
        var merges = new List<(string, string)>();
        using (var reader = new StreamReader(vocabBpe))
        {
            for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
            {
                if (line.Length == 0 || line.StartsWith("#version", StringComparison.Ordinal)) continue;
                merges.Add(TokenizerJsonLoader.SplitMerge(line));
            }
        }
        var tok = new ByteLevelBpeTokenizer(vocab, merges, PreTokenizerPatterns.Gpt2);
        if (vocab.TryGetValue(Gpt2EndOfText, out int eot))
        {
            tok.AddTokens([new AddedToken(eot, Gpt2EndOfText)]);
            tok.BosTokenId = eot;
            tok.EosTokenId = eot;
        }
        return tok;
    }

    /// <summary>Loads a BERT vocab.txt (one token per line; the id is the line number).</summary>
    public static WordPieceTokenizer LoadBert(string vocabTxtPath, bool lowercase = true)
    {
        using var s = File.OpenRead(vocabTxtPath);
        return LoadBert(s, lowercase);
    }

    /// <summary>Loads a BERT vocab.txt from a stream.</summary>
    public static WordPieceTokenizer LoadBert(Stream vocabTxt, bool lowercase = true)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        using var reader = new StreamReader(vocabTxt);
        int id = 0;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            vocab.TryAdd(line.TrimEnd('\r'), id);
            id++;
        }
        return new WordPieceTokenizer(vocab, new BertPreTokenizer(lowercase));
    }
}
