namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// A token matched verbatim in the raw text before the model splits it (e.g. <c>&lt;|im_start|&gt;</c>,
/// <c>[CLS]</c>). <see cref="Special"/> tokens are dropped by <c>Decode(ids, skipSpecialTokens: true)</c>.
/// </summary>
/// <remarks>Hugging Face equivalent: <c>tokenizers.AddedToken</c> (the <c>added_tokens</c> list of tokenizer.json).
/// </remarks>
/// <param name="Id">Token id.</param>
/// <param name="Content">Exact text of the token.</param>
/// <param name="Special">Whether it is a control token (skipped when decoding with skipSpecialTokens).</param>
/// <param name="LStrip">Whether whitespace on its left is absorbed into the match.</param>
/// <param name="RStrip">Whether whitespace on its right is absorbed into the match.</param>
public sealed record AddedToken(int Id, string Content, bool Special = true, bool LStrip = false, bool RStrip = false);
