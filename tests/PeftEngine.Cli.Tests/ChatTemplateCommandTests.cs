using System.Text;
using System.Text.Json;
using PeftEngine.Cli;
using PeftEngine.Cli.Export;
using PeftEngine.IO.Gguf;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models.Generation;

namespace PeftEngine.Tests;

/// <summary><c>peft chat</c> with Jinja chat templates (the model's own, a file, a fallback to the built-in formats)
/// and <c>peft export</c>'s SentencePiece tokenizer.json.</summary>
[Collection("console")]
public class ChatTemplateCommandTests(TinyModelFolder tiny) : IClassFixture<TinyModelFolder>
{
    // A ChatML variant with its own default system prompt and the EOS after each assistant turn, so that a transcript
    // made with it differs from the built-in ChatML format.
    private const string Template =
        "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nBe brief.<|im_end|>\n{% endif %}" +
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content | trim }}<|im_end|>\n" +
        "{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}" +
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

    /// <summary>A copy of the tiny model whose tokenizer_config.json holds <paramref name="template"/>.</summary>
    private string ModelWithTemplate(string template)
    {
        string dir = Path.Combine(tiny.Root, "chat-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        foreach (var name in new[] { "config.json", "model.safetensors", "tokenizer.json" })
            File.Copy(Path.Combine(tiny.ModelDir, name), Path.Combine(dir, name));
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), JsonSerializer.Serialize(new { chat_template = template }));
        return dir;
    }

    /// <summary>The greedy reply to <paramref name="prompt"/>, generated directly.</summary>
    private static string Reply(LoadedLanguageModel loaded, string prompt, int maxNewTokens, IReadOnlyList<long> stop)
    {
        var ids = loaded.Tokenizer.Encode(prompt, addSpecialTokens: false).Select(i => (long)i).ToArray();
        using var t = Tensor.FromArray(ids, 1, ids.Length);
        var result = TextGeneration.Generate(loaded.Model, t, new GenerationConfig { MaxNewTokens = maxNewTokens, StopTokenIds = stop.ToList() });
        return loaded.Tokenizer.Decode(result.Sequences[0].Skip(ids.Length).Select(i => (int)i).ToList(), skipSpecialTokens: true);
    }

    [Fact]
    public void AutoUsesTheModelsJinjaTemplate()
    {
        string model = ModelWithTemplate(Template);
        var output = new StringWriter();
        var log = new StringWriter();
        Assert.Equal(0, ChatCommand.Run(new ChatCommand.Settings { Model = model, MaxNewTokens = 5 }, new StringReader("Hello\nAnd then?\n"), output, log));
        Assert.Contains("the model's chat template (tokenizer_config.json)", log.ToString());

        using var loaded = LoadedLanguageModel.Load(model);
        var stop = loaded.StopTokenIds.Append((long)loaded.Tokenizer.TokenToId("<|im_end|>")!.Value).Distinct().ToList();
        // the prompts, rendered by hand from the template (no BOS in this tokenizer; EOS is <|endoftext|>)
        const string first = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n";
        string reply1 = Reply(loaded, first, 5, stop);
        string second = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n" + reply1.Trim() +
            "<|im_end|>\n<|endoftext|><|im_start|>user\nAnd then?<|im_end|>\n<|im_start|>assistant\n";
        string reply2 = Reply(loaded, second, 5, stop);
        Assert.Contains("> Hello\n" + reply1 + "\n", output.ToString());
        Assert.Contains("> And then?\n" + reply2 + "\n", output.ToString());
    }

    [Fact]
    public void TemplateOptionTakesAJinjaFileOrATokenizerConfig()
    {
        string file = Path.Combine(tiny.Root, "template-" + Guid.NewGuid().ToString("N") + ".jinja");
        File.WriteAllText(file, Template);
        var log = new StringWriter();
        var setup = ChatCommand.ResolveTemplate(file, tiny.ModelDir, log);
        Assert.NotNull(setup.Jinja);
        Assert.Equal($"chat template {file}", setup.Description);
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
            setup.Render([new PeftEngine.IO.Tokenizers.ChatMessage("user", " Hi ")], null, "<|endoftext|>"));

        string config = Path.Combine(ModelWithTemplate(Template), "tokenizer_config.json");
        Assert.Equal(Template, ChatCommand.ResolveTemplate(config, tiny.ModelDir, log).Jinja!.Source);
        Assert.Equal(ChatFormat.Llama3, ChatCommand.ResolveTemplate("llama3", tiny.ModelDir, log).Format);
        Assert.Equal("plain", ChatCommand.ResolveTemplate("auto", tiny.ModelDir, log).Name);      // no template at all

        string bad = Path.Combine(tiny.Root, "bad-" + Guid.NewGuid().ToString("N") + ".jinja");
        File.WriteAllText(bad, "{% for m in messages %}\n{{ m.content }}{% macro x() %}{% endmacro %}{% endfor %}");
        var ex = Assert.Throws<ArgumentException>(() => ChatCommand.ResolveTemplate(bad, tiny.ModelDir, log));
        Assert.Contains("'{% macro %}' tag is not supported", ex.Message);
        Assert.Contains("line 2, column 19", ex.Message);
        Assert.Equal(2, CommandLine.Run(["chat", "--model", tiny.ModelDir, "--template", bad]));
        Assert.Throws<ArgumentException>(() => ChatCommand.ResolveTemplate("vicuna", tiny.ModelDir, log));
    }

    [Fact]
    public void AnUnusableModelTemplateFallsBackToTheBuiltInFormatItsMarkersName()
    {
        var log = new StringWriter();
        string model = ModelWithTemplate("{% for m in messages %}<|im_start|>{{ m.content | wordcount }}<|im_end|>{% endfor %}");
        var setup = ChatCommand.ResolveTemplate("auto", model, log);
        Assert.Equal(ChatFormat.ChatMl, setup.Format);
        Assert.Contains("filter 'wordcount' is not supported", log.ToString());
        Assert.Contains("using the built-in chatml format", log.ToString());

        string unknown = ModelWithTemplate("{% macro m() %}{% endmacro %}");
        Assert.Equal("plain", ChatCommand.ResolveTemplate("auto", unknown, log).Name);
    }

    [Fact]
    public void ATemplateRefusingTheConversationIsAClearError()
    {
        string model = ModelWithTemplate("{% if messages | length > 1 %}{{ raise_exception('one message only') }}{% endif %}" +
            "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n");
        var ex = Assert.Throws<ArgumentException>(() => ChatCommand.Run(new ChatCommand.Settings { Model = model, MaxNewTokens = 2, System = "Be brief." },
            new StringReader("Hello\n"), new StringWriter(), new StringWriter()));
        Assert.Contains("one message only", ex.Message);
    }

    [Fact]
    public void GgufToHfWritesASentencePieceVocabularyAsTokenizerJson()
    {
        // a small SentencePiece vocabulary: control tokens, the 256 byte pieces, characters, then merged pieces whose
        // score falls with their id (earlier pieces merge first)
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        tokens.AddRange(Enumerable.Range(0, 256).Select(b => $"<0x{b:X2}>"));
        tokens.AddRange("\u2581abcdehilnorstw,.!".Select(c => c.ToString()));
        tokens.AddRange(["\u2581h", "el", "lo", "\u2581hel", "\u2581hello", "\u2581t", "he", "\u2581the", "in", "\u2581w", "or", "ld", "\u2581wor", "\u2581world", "er", "\u2581a", "nd", "\u2581and"]);
        var types = tokens.Select((t, i) => i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1).ToArray();
        var scores = tokens.Select((_, i) => i < 259 ? 0f : -(float)i).ToArray();
        var data = new GgufTokenizerData("llama", null, tokens.ToArray(), scores, types, null, 1, 2, 0, null, null, true, false, null);

        var json = TokenizerJsonLoader.Load(new MemoryStream(Encoding.UTF8.GetBytes(GgufToHf.TokenizerJson(data))));
        var gguf = GgufTokenizerFactory.Create(new Dictionary<string, object>
        {
            ["tokenizer.ggml.model"] = "llama", ["tokenizer.ggml.tokens"] = tokens.ToArray(), ["tokenizer.ggml.scores"] = scores,
            ["tokenizer.ggml.token_type"] = types, ["tokenizer.ggml.bos_token_id"] = 1u, ["tokenizer.ggml.eos_token_id"] = 2u,
            ["tokenizer.ggml.unknown_token_id"] = 0u,
        });
        foreach (var text in new[] { "hello world", "Hello, the world and theirs!", "  two spaces", "<s>hello</s> world", "naïve 日本 🦙" })
        {
            Assert.Equal(gguf.Encode(text), json.Encode(text));
            Assert.Equal(gguf.Encode(text, addSpecialTokens: false), json.Encode(text, addSpecialTokens: false));
        }
        int hello = tokens.IndexOf("\u2581hello"), world = tokens.IndexOf("\u2581world");
        Assert.Equal(new[] { 1, hello, world }, json.Encode("hello world"));
        Assert.Equal("hello world", json.Decode(json.Encode("hello world"), skipSpecialTokens: true));
        Assert.Equal(new[] { tokens.IndexOf("\u2581"), tokens.IndexOf("<0xC3>"), tokens.IndexOf("<0xA9>") }, json.Encode("é", addSpecialTokens: false));   // byte fallback
    }
}
