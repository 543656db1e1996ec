using PeftEngine.IO.Tokenizers;

namespace PeftEngine.Tests.Tokenizers;

public class UnicodeNormalizationTests
{
    // Expected values from Python's unicodedata.normalize (Unicode 14).
    [Theory]
    [InlineData("cafe\u0301", "caf\u00E9", "cafe\u0301")]
    [InlineData("\u1100\u1161\u11A8", "\uAC01", "\u1100\u1161\u11A8")]
    [InlineData("\uAC01", "\uAC01", "\u1100\u1161\u11A8")]
    [InlineData("a\u0302\u0323", "\u1EAD", "a\u0323\u0302")]
    [InlineData("\u212B", "\u00C5", "A\u030A")]
    [InlineData("\u1E9B\u0323", "\u1E9B\u0323", "\u017F\u0323\u0307")]
    [InlineData("e\u0301\u0301", "\u00E9\u0301", "e\u0301\u0301")]
    [InlineData("\u0958", "\u0915\u093C", "\u0915\u093C")]
    [InlineData("q\u0307\u0323", "q\u0323\u0307", "q\u0323\u0307")]
    [InlineData("A\u030A\u0301", "\u01FA", "A\u030A\u0301")]
    [InlineData("plain ascii", "plain ascii", "plain ascii")]
    public void NfcAndNfd_MatchPython(string input, string nfc, string nfd)
    {
        Assert.Equal(nfc, UnicodeNormalization.Nfc(input));
        Assert.Equal(nfd, UnicodeNormalization.Nfd(input));
    }

    [Fact]
    public void Qwen_NormalizesToNfcBeforeSplitting()
    {
        var tok = TokenizerTestData.Qwen;
        Assert.Equal(tok.Encode("caf\u00E9 Ångström"), tok.Encode("cafe\u0301 A\u030Angstro\u0308m"));
    }
}
