using PeftEngine.IO.Datasets;

namespace PeftEngine.Tests;

public class DatasetTests
{
    /// <summary>One token per character: the id is the character code.</summary>
    private static int[] Chars(string s) => s.Select(c => (int)c).ToArray();

    [Fact]
    public void TextIsChunkedIntoWindows()
    {
        var chunks = TextChunker.Chunk("abcdefg", Chars, 3);
        Assert.Equal(3, chunks.Count);
        Assert.Equal(Chars("abc"), chunks[0].InputIds);
        Assert.Equal(Chars("def"), chunks[1].InputIds);
        Assert.Equal(Chars("g"), chunks[2].InputIds);
        Assert.Equal(chunks[0].InputIds, chunks[0].Labels);
        Assert.Equal(2, TextChunker.Chunk("abcdefg", Chars, 3, dropLast: true).Count);
        var overlapping = TextChunker.Chunk("abcdef", Chars, 4, stride: 2);
        Assert.Equal([Chars("abcd"), Chars("cdef")], overlapping.Select(c => c.InputIds));
        Assert.Empty(TextChunker.Chunk("", Chars, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => TextChunker.Chunk("a", Chars, 0));
    }

    [Fact]
    public void TextFileChunks()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("t.txt"), "hello world");
        var chunks = TextChunker.ChunkFile(dir.File("t.txt"), Chars, 5);
        Assert.Equal(["hello", " worl", "d"], chunks.Select(c => new string(c.InputIds.Select(i => (char)i).ToArray())));
    }

    [Fact]
    public void JsonlReadsAllFormats()
    {
        using var dir = new TempDir();
        string path = dir.File("d.jsonl");
        File.WriteAllLines(path,
        [
            """{"instruction": "Add", "input": "1 2", "output": "3"}""",
            """{"instruction": "Greet", "output": "hi"}""",
            "",
            """{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}""",
            """{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}""",
            """{"text": "plain"}""",
        ]);
        var recs = JsonlDataset.Read(path);
        Assert.Equal(5, recs.Count);
        Assert.Equal(new InstructionRecord(1, "Add", "1 2", "3"), recs[0]);
        Assert.Equal(new InstructionRecord(2, "Greet", "", "hi"), recs[1]);
        var chat = Assert.IsType<ChatRecord>(recs[2]);
        Assert.Equal(4, chat.Line);
        Assert.Equal([new("system", "s"), new("user", "q"), new ChatMessage("assistant", "a")], chat.Messages);
        var share = Assert.IsType<ChatRecord>(recs[3]);
        Assert.Equal([new("user", "q"), new ChatMessage("assistant", "a")], share.Messages);
        Assert.Equal(new TextRecord(6, "plain"), recs[4]);
    }

    [Theory]
    [InlineData("{\"instruction\": \"x\"}", "missing field 'output'")]
    [InlineData("{\"instruction\": \"x\", \"output\": 3}", "'output' must be a string")]
    [InlineData("{not json", "not valid JSON")]
    [InlineData("[1, 2]", "expected a JSON object")]
    [InlineData("{\"messages\": [{\"role\": \"alien\", \"content\": \"x\"}]}", "unknown role 'alien'")]
    [InlineData("{\"conversations\": [{\"from\": \"human\"}]}", "'conversations[0].value'")]
    [InlineData("{\"foo\": 1}", "unknown record format")]
    public void JsonlErrorsNameFileAndLine(string badLine, string fragment)
    {
        using var dir = new TempDir();
        string path = dir.File("bad.jsonl");
        File.WriteAllLines(path, ["""{"text": "ok"}""", "", badLine]);
        var e = Assert.Throws<InvalidDataException>(() => JsonlDataset.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("line 3", e.Message);
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void InstructionPromptTokensAreMasked()
    {
        var f = new SupervisedFormatter(Chars) { EndOfResponseId = 2, InstructionPrompt = r => $"Q:{r.Instruction}|{r.Input}\nA:" };
        var ex = f.Format(new InstructionRecord(1, "x", "y", "ok"));
        Assert.Equal(Chars("Q:x|y\nA:ok").Append(2), ex.InputIds);
        Assert.Equal(Enumerable.Repeat(-100, 8).Concat(Chars("ok")).Append(2), ex.Labels);
        var cut = new SupervisedFormatter(Chars) { MaxLength = 9, InstructionPrompt = _ => "Q:x|y\nA:" }.Format(new InstructionRecord(1, "x", "y", "ok"));
        Assert.Equal(9, cut.Length);
        Assert.Equal('o', cut.Labels[^1]);
        Assert.Contains("### Response:", SupervisedFormatter.DefaultInstructionPrompt(new InstructionRecord(1, "i", "", "o")));
        Assert.Contains("### Input:\nin", SupervisedFormatter.DefaultInstructionPrompt(new InstructionRecord(1, "i", "in", "o")));
    }

    [Fact]
    public void ChatLabelsOnlyAssistantContent()
    {
        var f = new SupervisedFormatter(Chars) { RoleHeader = r => r[..1] + ":", MessageSuffix = ";" };
        var ex = f.Format(new ChatRecord(1, [new("user", "hi"), new("assistant", "yo")]));
        Assert.Equal(Chars("u:hi;a:yo;"), ex.InputIds);
        int M = -100;
        Assert.Equal(new[] { M, M, M, M, M, M, M, 'y', 'o', ';' }, ex.Labels);
    }

    [Fact]
    public void CsvFollowsRfc4180()
    {
        string csv = "label,text\r\n"
                   + "pos,plain\r\n"
                   + "neg,\"with, comma\"\r\n"
                   + "pos,\"say \"\"hi\"\"\"\r\n"
                   + "neg,\"two\nlines\"\n"
                   + "pos,\n"
                   + "\n";
        var d = CsvDataset.ReadTextLabel(csv, "c.csv", "text", "label");
        Assert.Equal(["neg", "pos"], d.Labels);
        Assert.Equal(["plain", "with, comma", "say \"hi\"", "two\nlines", ""], d.Rows.Select(r => r.Text));
        Assert.Equal([1, 0, 1, 0, 1], d.Rows.Select(r => r.Label));
        Assert.Equal([2, 3, 4, 5, 7], d.Rows.Select(r => r.Line));
    }

    [Fact]
    public void CsvNumericLabelsKeepTheirValues()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("n.csv"), "text,label,extra\na,2,x\nb,0,y\n");
        var d = CsvDataset.ReadTextLabel(dir.File("n.csv"));
        Assert.Equal(["0", "1", "2"], d.Labels);
        Assert.Equal([2, 0], d.Rows.Select(r => r.Label));
    }

    [Theory]
    [InlineData("text,label\na,1\nb\n", "line 3", "1 fields")]
    [InlineData("text,label\na,1\n\"open,1\n", "line 3", "never closed")]
    [InlineData("text,label\na\"b,1\n", "line 2", "quote inside")]
    [InlineData("text,label\n\"a\"b,1\n", "line 2", "after a closing quote")]
    [InlineData("words,label\na,1\n", "line 1", "lacks column 'text'")]
    public void CsvErrorsNameFileAndLine(string csv, string line, string fragment)
    {
        var e = Assert.Throws<InvalidDataException>(() => CsvDataset.ReadTextLabel(csv, "x.csv", "text", "label"));
        Assert.Contains("'x.csv'", e.Message);
        Assert.Contains(line, e.Message);
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void ShuffleIsDeterministicAndAPermutation()
    {
        var a = Batching.ShuffledOrder(50, 7);
        Assert.Equal(a, Batching.ShuffledOrder(50, 7));
        Assert.NotEqual(a, Batching.ShuffledOrder(50, 8));
        Assert.NotEqual(Enumerable.Range(0, 50), a);
        Assert.Equal(Enumerable.Range(0, 50), a.Order());
    }

    [Fact]
    public void CollatePadsAndMasks()
    {
        var ex = new List<TrainingExample>
        {
            TrainingExample.PromptCompletion([5, 6], [7]),
            TrainingExample.LanguageModelling([1, 2, 3, 4]),
        };
        using var b = Batching.Collate(ex, padId: 0);
        Assert.Equal(new Shape(2, 4), b.InputIds.Shape);
        Assert.Equal(DType.I64, b.InputIds.DType);
        Assert.Equal(new long[] { 5, 6, 7, 0, 1, 2, 3, 4 }, b.InputIds.ToArray<long>());
        Assert.Equal(new byte[] { 1, 1, 1, 0, 1, 1, 1, 1 }, b.AttentionMask.ToArray<byte>());
        Assert.Equal(new long[] { -100, -100, 7, -100, 1, 2, 3, 4 }, b.Labels.ToArray<long>());

        using var left = Batching.Collate(ex, padId: 9, padToMultipleOf: 3, padLeft: true);
        Assert.Equal(new Shape(2, 6), left.InputIds.Shape);
        Assert.Equal(new long[] { 9, 9, 9, 5, 6, 7, 9, 9, 1, 2, 3, 4 }, left.InputIds.ToArray<long>());
        Assert.Equal(new byte[] { 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1 }, left.AttentionMask.ToArray<byte>());
    }

    [Fact]
    public void BatchesCoverEveryExampleOnceInSeededOrder()
    {
        var ex = Enumerable.Range(1, 7).Select(i => TrainingExample.LanguageModelling(Enumerable.Repeat(i, i).ToArray())).ToList();
        List<long> FirstTokens(ulong? seed, bool dropLast)
        {
            var firsts = new List<long>();
            foreach (var b in Batching.Batches(ex, 3, padId: 0, seed, dropLast))
                using (b)
                {
                    var ids = b.InputIds.ToArray<long>();
                    int t = b.InputIds.Shape[1];
                    for (int r = 0; r < b.InputIds.Shape[0]; r++) firsts.Add(ids[r * t]);
                }
            return firsts;
        }
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], FirstTokens(null, false));
        var shuffled = FirstTokens(42, false);
        Assert.Equal(Batching.ShuffledOrder(7, 42).Select(i => (long)i + 1), shuffled);
        Assert.Equal(shuffled, FirstTokens(42, false));
        Assert.Equal(6, FirstTokens(42, true).Count);
    }
}
