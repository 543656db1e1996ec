using PeftEngine.IO.Datasets;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Models.Training;

namespace PeftEngine.Cli.Classify;

/// <summary>Held-out numbers of a sequence classifier.</summary>
/// <param name="Loss">Mean cross-entropy over the examples.</param>
/// <param name="Correct">Examples whose highest logit is the true class.</param>
/// <param name="Count">Examples scored.</param>
/// <param name="Predictions">The predicted class id of each example, in order.</param>
public sealed record ClassifierScore(double Loss, int Correct, int Count, IReadOnlyList<int> Predictions)
{
    /// <summary>Correct / Count.</summary>
    public double Accuracy => Count == 0 ? 0 : (double)Correct / Count;
}

/// <summary>Turns labelled texts into batches for a BERT classifier and scores a model on them.</summary>
public sealed class ClassifierBatches(ITokenizer tokenizer, IReadOnlyList<string> labels, int maxLength)
{
    /// <summary>The class names; a name's index is its class id.</summary>
    public IReadOnlyList<string> Labels => labels;

    /// <summary>Token ids (B, T) I64, attention mask (B, T) I64 and class ids (B) I64 of <paramref name="records"/>,
    /// padded to the longest and cut to the maximum length ([CLS] text [SEP]).</summary>
    public (Tensor Ids, Tensor Mask, Tensor Labels) Encode(IReadOnlyList<LabelledText> records)
    {
        var encoding = BatchEncoder.Encode(tokenizer, records.Select(r => r.Text).ToList(),
            new BatchEncodeOptions { Truncation = true, MaxLength = maxLength });
        int b = records.Count, t = encoding.InputIds[0].Length;
        var classes = new long[b];
        for (int i = 0; i < b; i++) classes[i] = ClassId(records[i].Label);
        return (Tensor.FromArray(encoding.FlatInputIds(), b, t), Tensor.FromArray(encoding.FlatAttentionMask(), b, t), Tensor.FromArray(classes, b));
    }

    /// <summary><paramref name="records"/> as training examples for a <see cref="BatchLoader"/>: the tokens
    /// ([CLS] text [SEP], cut to the maximum length) and, as labels, the class id at position 0 (the [CLS] token,
    /// whose final state the classifier reads) and <see cref="TrainingExample.IgnoreIndex"/> elsewhere.</summary>
    public List<TrainingExample> Examples(IReadOnlyList<LabelledText> records)
    {
        var encoding = BatchEncoder.Encode(tokenizer, records.Select(r => r.Text).ToList(),
            new BatchEncodeOptions { Truncation = true, MaxLength = maxLength, Padding = PaddingStrategy.None });
        var examples = new List<TrainingExample>(records.Count);
        for (int i = 0; i < records.Count; i++)
        {
            var ids = encoding.InputIds[i];
            var labels = Enumerable.Repeat(TrainingExample.IgnoreIndex, ids.Length).ToArray();
            labels[0] = ClassId(records[i].Label);
            examples.Add(new TrainingExample(ids, labels));
        }
        return examples;
    }

    /// <summary>The class ids (B) I64 that <see cref="Examples"/> put at position 0 of collated labels (B, T).</summary>
    public static Tensor ClassIds(Tensor labels)
    {
        using var first = Ops.Select(labels, 1, 0);                           // (B, T) -> (B)
        return Ops.Contiguous(first);
    }

    private int ClassId(string label)
    {
        int id = IndexOf(label);
        return id >= 0 ? id : throw new ArgumentException($"label '{label}' is not one of the classes {string.Join(", ", labels)}");
    }

    private int IndexOf(string label)
    {
        for (int i = 0; i < labels.Count; i++) if (labels[i] == label) return i;
        return -1;
    }

    /// <summary>Mean cross-entropy and accuracy of <paramref name="model"/> on <paramref name="records"/> (evaluation
    /// mode, no gradients; batches of <paramref name="batchSize"/>).</summary>
    /// <remarks>HF: Trainer.evaluate with an accuracy compute_metrics.</remarks>
    public ClassifierScore Score(BertForSequenceClassification model, IReadOnlyList<LabelledText> records, int batchSize)
    {
        bool training = model.IsTraining;
        model.Eval();
        using var grad = GradMode.Disable();
        double lossSum = 0;
        int correct = 0;
        var predictions = new List<int>(records.Count);
        try
        {
            for (int start = 0; start < records.Count; start += batchSize)
            {
                var chunk = records.Skip(start).Take(batchSize).ToList();
                using var scope = TensorScope.Begin();
                var (ids, mask, classes) = Encode(chunk);
                var logits = model.Forward(ids, mask);                   // (B, num_labels)
                var loss = Ops.CrossEntropy(logits, classes);
                lossSum += loss.Item() * chunk.Count;
                var values = logits.ToFloatArray();
                int n = labels.Count;
                for (int i = 0; i < chunk.Count; i++)
                {
                    int best = 0;
                    for (int c = 1; c < n; c++) if (values[i * n + c] > values[i * n + best]) best = c;
                    predictions.Add(best);
                    if (labels[best] == chunk[i].Label) correct++;
                }
            }
        }
        finally
        {
            if (training) model.Train();
        }
        return new ClassifierScore(lossSum / records.Count, correct, records.Count, predictions);
    }
}
