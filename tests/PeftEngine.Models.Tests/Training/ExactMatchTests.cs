using PeftEngine.IO.Datasets;
using PeftEngine.IO.Tokenizers;
using PeftEngine.IO.Tokenizers.Training;
using PeftEngine.Models;
using PeftEngine.Models.Training;
using PeftEngine.Nn;

namespace PeftEngine.Tests.Training;

public class ExactMatchTests
{
    /// <summary>A model that always predicts the successor of the last input token in a fixed chain.</summary>
    private sealed class ChainModel(int vocab, Dictionary<int, int> next) : Module, ICausalLanguageModel
    {
        Module ICausalLanguageModel.Module => this;
        public int VocabSize => vocab;
        public int MaxPositions => 512;
        public ModelKvCache CreateCache(int batch, int maxLength) => new([]);
        public Tensor Loss(Tensor ids, Tensor labels, Tensor? attentionMask = null) => throw new NotSupportedException();

        public Tensor Forward(Tensor ids, Tensor? attentionMask = null, ModelKvCache? cache = null)
        {
            long[] x = ids.ToArray<long>();
            int b = ids.Shape[0], t = ids.Shape[1];
            var logits = new float[b * t * vocab];
            for (int i = 0; i < b * t; i++) logits[i * vocab + next.GetValueOrDefault((int)x[i], 0)] = 10f;
            return Tensor.FromArray(logits, b, t, vocab);
        }
    }

    [Fact]
    public void ScoresTheFirstLineOfTheGreedyAnswer()
    {
        var tok = BpeTrainer.Train(["Where does Anne live? Anne lives in Bath. Bath Bath Bath"], new BpeTrainerOptions { VocabSize = 300 }).ToTokenizer();
        int[] bath = tok.Encode("Bath", false);
        int newline = tok.Encode("\n", false).Single();
        // After the prompt's final newline: "Bath", then end of text (id 0).
        var chain = new Dictionary<int, int> { [newline] = bath[0] };
        for (int i = 0; i + 1 < bath.Length; i++) chain[bath[i]] = bath[i + 1];
        chain[bath[^1]] = tok.EosTokenId!.Value;
        using var model = new ChainModel(tok.VocabSize, chain);

        InstructionRecord Q(string answer) => new(1, "Where does Anne live?", "Anne lives in " + answer + ".", answer);
        var result = ExactMatch.Evaluate(model, tok, [Q("Bath"), Q("York"), Q("Bath")]);
        Assert.Equal([true, false, true], result.Samples.Select(s => s.Correct));
        Assert.All(result.Samples, s => Assert.Equal("Bath", s.Predicted));
        Assert.Equal(2.0 / 3, result.Accuracy, 12);

        // Without the stop token the answer would run on; the newline cuts it at the first line.
        chain[bath[^1]] = newline;
        var cut = ExactMatch.Evaluate(model, tok, [Q("Bath")], maxNewTokens: 2 * bath.Length + 2);
        Assert.Equal("Bath", cut.Samples[0].Predicted);
    }
}
