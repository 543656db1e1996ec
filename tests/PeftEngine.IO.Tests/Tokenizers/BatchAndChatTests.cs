using PeftEngine.IO.Tokenizers;

namespace PeftEngine.Tests.Tokenizers;

public class BatchAndChatTests
{
    [Fact]
    public void Batch_PadsRightToLongest_WithMask()
    {
        var tok = TokenizerTestData.Bert;
        var batch = BatchEncoder.Encode(tok, ["hello world", "hello"]);
        Assert.Equal([101, 7592, 2088, 102], batch.InputIds[0]);
        Assert.Equal([101, 7592, 102, 0], batch.InputIds[1]);
        Assert.Equal([1, 1, 1, 1], batch.AttentionMask[0]);
        Assert.Equal([1, 1, 1, 0], batch.AttentionMask[1]);
        Assert.Equal([101L, 7592, 2088, 102, 101, 7592, 102, 0], batch.FlatInputIds());
    }

    [Fact]
    public void Batch_PadsLeft_UsingEosWhenThereIsNoPadToken()
    {
        var tok = TokenizerTestData.Gpt2;
        Assert.Null(tok.PadTokenId);
        var batch = BatchEncoder.Encode(tok, ["Hello world", "Hello"], new BatchEncodeOptions { PaddingSide = Side.Left });
        Assert.Equal([15496, 995], batch.InputIds[0]);
        Assert.Equal([50256, 15496], batch.InputIds[1]);
        Assert.Equal([0, 1], batch.AttentionMask[1]);
    }

    [Fact]
    public void Batch_TruncationKeepsSpecialTokens_BothSides()
    {
        var tok = TokenizerTestData.Bert;
        var right = BatchEncoder.Encode(tok, ["one two three four five"], new BatchEncodeOptions { Truncation = true, MaxLength = 4 });
        int[] full = tok.Encode("one two three four five");
        Assert.Equal([101, full[1], full[2], 102], right.InputIds[0]);
        var left = BatchEncoder.Encode(tok, ["one two three four five"], new BatchEncodeOptions { Truncation = true, MaxLength = 4, TruncationSide = Side.Left });
        Assert.Equal([101, full[^3], full[^2], 102], left.InputIds[0]);
    }

    [Fact]
    public void Batch_MaxLengthPadding_MultipleOf_AndNoPadding()
    {
        var tok = TokenizerTestData.Bert;
        var fixedLen = BatchEncoder.Encode(tok, ["hi", "hello there"], new BatchEncodeOptions { Padding = PaddingStrategy.MaxLength, MaxLength = 6 });
        Assert.All(fixedLen.InputIds, r => Assert.Equal(6, r.Length));
        Assert.Equal(3, fixedLen.AttentionMask[0].Sum());
        var mult = BatchEncoder.Encode(tok, ["hi", "hello there"], new BatchEncodeOptions { PadToMultipleOf = 8 });
        Assert.All(mult.InputIds, r => Assert.Equal(8, r.Length));
        var none = BatchEncoder.Encode(tok, ["hi", "hello there"], new BatchEncodeOptions { Padding = PaddingStrategy.None });
        Assert.Equal(3, none.InputIds[0].Length);
        Assert.Equal(4, none.InputIds[1].Length);
        Assert.Throws<InvalidOperationException>(() => none.FlatInputIds());
        Assert.Throws<ArgumentException>(() => BatchEncoder.Encode(tok, ["x"], new BatchEncodeOptions { Truncation = true }));
    }

    private static readonly ChatMessage[] Conversation =
    [
        new("system", "You are terse."),
        new("user", "Hi!"),
        new("assistant", "Hello."),
        new("user", "2+2?"),
    ];

    [Fact]
    public void ChatMl_Format()
    {
        string text = ChatTemplate.Render("qwen2", Conversation);
        Assert.Equal(
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n" +
            "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n", text);
        string withDefault = ChatTemplate.Render(ChatFormat.ChatMl, [new ChatMessage("user", "Hi")], addGenerationPrompt: false,
            defaultSystemPrompt: "You are a helpful assistant.");
        Assert.Equal("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n", withDefault);

        // The rendered prompt tokenizes with the ChatML markers as single special tokens.
        int[] ids = TokenizerTestData.Qwen.Encode(text, addSpecialTokens: false);
        Assert.Equal(5, ids.Count(i => i == 151644));
        Assert.Equal(4, ids.Count(i => i == 151645));
    }

    [Fact]
    public void Llama2_Format()
    {
        Assert.Equal(
            "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi! [/INST] Hello. </s><s>[INST] 2+2? [/INST]",
            ChatTemplate.Render("llama-2", Conversation));
        Assert.Throws<ArgumentException>(() => ChatTemplate.Render(ChatFormat.Llama2, [new ChatMessage("tool", "x")]));
    }

    [Fact]
    public void Llama3_Format()
    {
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n",
            ChatTemplate.Render("Llama3.1", Conversation));
        Assert.Throws<ArgumentException>(() => ChatTemplate.FromName("vicuna"));
    }
}
