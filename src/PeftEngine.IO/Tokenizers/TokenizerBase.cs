namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// Shared plumbing of the tokenizers: the vocabulary, added tokens (split out of the raw text first), the
/// post-processor's prefix/suffix tokens and decoding with special tokens skipped. A subclass only encodes a
/// stretch of ordinary text (<see cref="EncodeOrdinary"/>) and decodes a run of ordinary ids (<see cref="DecodeOrdinary"/>).
/// </summary>
public abstract class TokenizerBase : ITokenizer
{
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<int, AddedToken> _added = new();
    private AddedTokenSplitter _splitter = new([]);

    /// <summary>Creates the base from a token-to-id vocabulary (added tokens may be added later).</summary>
    protected TokenizerBase(IReadOnlyDictionary<string, int> vocab)
    {
        _vocab = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        int size = _vocab.Count == 0 ? 0 : _vocab.Values.Max() + 1;
        _idToTokenAll = new string?[size];
        foreach (var (tok, id) in _vocab)
        {
            if (id < 0) throw new ArgumentException($"Tokenizer: token '{tok}' has negative id {id}.", nameof(vocab));
            _idToTokenAll[id] = tok;
        }
        ModelVocabSize = size;
    }

    private string?[] _idToTokenAll;

    /// <summary>Number of ids in the model vocabulary (without added tokens beyond it).</summary>
    protected int ModelVocabSize { get; }

    /// <inheritdoc/>
    public int VocabSize => _idToTokenAll.Length;

    /// <inheritdoc/>
    public int? BosTokenId { get; set; }

    /// <inheritdoc/>
    public int? EosTokenId { get; set; }

    /// <inheritdoc/>
    public int? PadTokenId { get; set; }

    /// <inheritdoc/>
    public int? UnkTokenId { get; set; }

    /// <summary>Ids placed before the text when encoding with special tokens (e.g. BOS, [CLS]).</summary>
    public IReadOnlyList<int> PrefixTokens { get; set; } = [];

    /// <summary>Ids placed after the text when encoding with special tokens (e.g. [SEP], EOS).</summary>
    public IReadOnlyList<int> SuffixTokens { get; set; } = [];

    /// <summary>Whether added tokens written in the input text are recognised (default true, as in Hugging Face).
    /// When false, text like "&lt;|im_end|&gt;" is tokenized as ordinary characters.</summary>
    public bool ParseAddedTokens { get; set; } = true;

    /// <summary>The added tokens, by id.</summary>
    public IReadOnlyCollection<AddedToken> AddedTokens => _added.Values;

    /// <summary>
    /// Registers tokens matched verbatim before model splitting. A token whose content is not yet in the
    /// vocabulary is added with its id.
    /// </summary>
    public void AddTokens(IEnumerable<AddedToken> tokens)
    {
        foreach (var t in tokens)
        {
            _added[t.Id] = t;
            if (t.Id >= _idToTokenAll.Length) Array.Resize(ref _idToTokenAll, t.Id + 1);
            _idToTokenAll[t.Id] = t.Content;
            _vocab.TryAdd(t.Content, t.Id);
        }
        _splitter = new AddedTokenSplitter(_added.Values);
    }

    /// <summary>Whether <paramref name="id"/> is an added token flagged special.</summary>
    public bool IsSpecial(int id) => _added.TryGetValue(id, out var t) && t.Special;

    /// <inheritdoc/>
    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    /// <inheritdoc/>
    public string? IdToToken(int id) => id >= 0 && id < _idToTokenAll.Length ? _idToTokenAll[id] : null;

    /// <summary>The model vocabulary lookup (added tokens included).</summary>
    protected bool TryGetId(string token, out int id) => _vocab.TryGetValue(token, out id);

    /// <summary>Encodes a stretch of text that contains no added tokens, appending ids to <paramref name="output"/>.</summary>
    protected abstract void EncodeOrdinary(string text, List<int> output);

    /// <summary>Decodes a run of ids that are not added tokens.</summary>
    protected abstract string DecodeOrdinary(IReadOnlyList<int> ids);

    /// <summary>Final touch on the decoded text (SentencePiece removes the leading space its prefix introduced).</summary>
    protected virtual string FinishDecode(string text) => text;

    /// <inheritdoc/>
    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        if (addSpecialTokens) ids.AddRange(PrefixTokens);
        if (ParseAddedTokens && !_splitter.IsEmpty)
            _splitter.Split(text, s => EncodeOrdinary(s, ids), t => ids.Add(t.Id));
        else if (text.Length > 0)
            EncodeOrdinary(text, ids);
        if (addSpecialTokens) ids.AddRange(SuffixTokens);
        return ids.ToArray();
    }

    /// <inheritdoc/>
    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sb = new System.Text.StringBuilder();
        var run = new List<int>();
        void Flush()
        {
            if (run.Count == 0) return;
            sb.Append(DecodeOrdinary(run));
            run.Clear();
        }
        foreach (int id in ids)
        {
            if (id < 0 || id >= _idToTokenAll.Length)
                throw new ArgumentOutOfRangeException(nameof(ids), $"Tokenizer.Decode: id {id} is outside the vocabulary [0, {_idToTokenAll.Length}).");
            if (_added.TryGetValue(id, out var added))
            {
                Flush();
                if (!(skipSpecialTokens && added.Special)) sb.Append(added.Content);
            }
            else
            {
                run.Add(id);
            }
        }
        Flush();
        return FinishDecode(sb.ToString());
    }
}
