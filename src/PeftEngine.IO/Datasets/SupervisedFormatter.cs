namespace PeftEngine.IO.Datasets;

/// <summary>
/// Turns dataset records into <see cref="TrainingExample"/>s for supervised fine-tuning: the prompt part is
/// masked with -100 and only the response tokens are labels.
/// </summary>
/// <remarks>HF/TRL: <c>DataCollatorForCompletionOnlyLM</c> / <c>assistant_only_loss</c>; the Alpaca prompt text is the
/// one from the Stanford Alpaca repository's <c>PROMPT_DICT</c> (paraphrased layout).</remarks>
public sealed class SupervisedFormatter(Func<string, int[]> tokenize)
{
    /// <summary>Token id appended after every response (e.g. EOS), or null for none.</summary>
    public int? EndOfResponseId { get; init; }

    /// <summary>Examples are cut to this many tokens when set.</summary>
    public int? MaxLength { get; init; }

    /// <summary>Builds the text before the response of an Alpaca record.</summary>
    public Func<InstructionRecord, string> InstructionPrompt { get; init; } = DefaultInstructionPrompt;

    /// <summary>The header text before a chat message's content (default <c>"&lt;|role|&gt;\n"</c>).</summary>
    public Func<string, string> RoleHeader { get; init; } = role => $"<|{role}|>\n";

    /// <summary>The text after a chat message's content (default a newline).</summary>
    public string MessageSuffix { get; init; } = "\n";

    /// <summary>The Alpaca prompt with and without an input section.</summary>
    public static string DefaultInstructionPrompt(InstructionRecord r) => string.IsNullOrEmpty(r.Input)
        ? "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
          + $"### Instruction:\n{r.Instruction}\n\n### Response:\n"
        : "Below is an instruction that describes a task, paired with an input that provides further context. "
          + "Write a response that appropriately completes the request.\n\n"
          + $"### Instruction:\n{r.Instruction}\n\n### Input:\n{r.Input}\n\n### Response:\n";

    /// <summary>Formats one record (instruction, chat or plain text).</summary>
    public TrainingExample Format(DatasetRecord record) => record switch
    {
        InstructionRecord r => TrainingExample.PromptCompletion(tokenize(InstructionPrompt(r)), WithEnd(tokenize(r.Output)), MaxLength),
        ChatRecord c => Chat(c),
        TextRecord t => Cut(TrainingExample.LanguageModelling(WithEnd(tokenize(t.Text)))),
        _ => throw new ArgumentException($"SupervisedFormatter: unknown record type {record.GetType().Name}"),
    };

    /// <summary>Formats every record.</summary>
    public List<TrainingExample> FormatAll(IEnumerable<DatasetRecord> records) => records.Select(Format).ToList();

    /// <summary>A conversation: headers and non-assistant turns are masked; assistant contents (with their suffix and
    /// the end-of-response id) are labels.</summary>
    private TrainingExample Chat(ChatRecord c)
    {
        var ids = new List<int>();
        var labels = new List<int>();
        foreach (var m in c.Messages)
        {
            Append(ids, labels, tokenize(RoleHeader(m.Role)), train: false);
            var body = tokenize(m.Content + MessageSuffix);
            bool train = m.Role == "assistant";
            Append(ids, labels, train ? WithEnd(body) : body, train);
        }
        return Cut(new TrainingExample(ids.ToArray(), labels.ToArray()));
    }

    private static void Append(List<int> ids, List<int> labels, int[] tokens, bool train)
    {
        ids.AddRange(tokens);
        foreach (int t in tokens) labels.Add(train ? t : TrainingExample.IgnoreIndex);
    }

    private int[] WithEnd(int[] ids) => EndOfResponseId is { } e ? [.. ids, e] : ids;

    private TrainingExample Cut(TrainingExample ex) => MaxLength is { } m ? ex.Truncate(m) : ex;
}
