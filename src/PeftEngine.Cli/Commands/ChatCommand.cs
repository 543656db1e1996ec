using System.ComponentModel;
using System.Text.Json;
using PeftEngine.IO.Datasets;
using PeftEngine.IO.Gguf;
using PeftEngine.IO.Tokenizers;
using PeftEngine.IO.Tokenizers.Jinja;
using ChatMessage = PeftEngine.IO.Tokenizers.ChatMessage;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary>
/// <c>peft chat</c>: reads a message per line from standard input and streams the model's reply after each. With a
/// chat template the whole conversation is kept and rendered each turn: the model's own Jinja template (the
/// <c>chat_template</c> of tokenizer_config.json or <c>tokenizer.chat_template</c> in GGUF metadata), a Jinja file
/// given to <c>--template</c>, or a built-in format (chatml, llama2, llama3) named by <c>--template</c> or used when
/// the model's template cannot be rendered. With <c>instruction</c> every line is asked as an Alpaca instruction
/// (the format <c>peft train</c> fine-tunes on); with <c>plain</c> every line is simply continued. An empty line or
/// end of input ends the session, so piped input works too.
/// </summary>
/// <remarks>HF: a loop over tokenizer.apply_chat_template(messages, add_generation_prompt=True) + model.generate
/// with a TextStreamer.</remarks>
public sealed class ChatCommand : Command<ChatCommand.Settings>
{
    /// <summary>Options of <c>peft chat</c>.</summary>
    public sealed class Settings : GenerateCommand.SamplingSettings
    {
        [CommandOption("--template <TEMPLATE>"), Description("auto (the model's own Jinja chat template if it has one, else plain), a Jinja template file (or a tokenizer_config.json holding chat_template), chatml, llama2, llama3, instruction (Alpaca prompt per line) or plain (continue each line) (default: auto)")]
        public string Template { get; init; } = "auto";

        [CommandOption("--system <TEXT>"), Description("A system message opening the conversation (chat formats only) (default: none)")]
        public string? System { get; init; }
    }

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        Run(settings, Console.In, Console.Out, Console.Error);

    /// <summary>The chat loop over <paramref name="input"/>; replies go to <paramref name="output"/>.</summary>
    internal static int Run(Settings settings, TextReader input, TextWriter output, TextWriter log)
    {
        using var loaded = LoadedLanguageModel.Load(settings.Model, settings.Adapter);
        settings.MoveToDevice(loaded);
        var chat = ResolveTemplate(settings.Template, loaded.Path, log);
        var stop = loaded.StopTokenIds.ToList();
        if (chat.IsConversation)
            foreach (var end in EndOfTurnTokens.Where(chat.MayUse))
                if (loaded.Tokenizer.TokenToId(end) is int id && !stop.Contains(id)) stop.Add(id);
        var config = settings.ToConfig(stop, defaultMaxNewTokens: 128);
        log.WriteLine($"peft chat: {loaded.Path}{(settings.Adapter is null ? "" : $" + adapter {settings.Adapter}")}, {chat.Description}; an empty line or end of input quits");
        string? bos = loaded.Tokenizer.BosTokenId is int b ? loaded.Tokenizer.IdToToken(b) : null;
        string? eos = loaded.Tokenizer.EosTokenId is int e ? loaded.Tokenizer.IdToToken(e) : null;

        var messages = new List<ChatMessage>();
        if (settings.System is { } system && chat.IsConversation) messages.Add(new ChatMessage("system", system));
        int turns = 0;
        while (true)
        {
            output.Write("> ");
            output.Flush();
            string? line = input.ReadLine();
            if (string.IsNullOrWhiteSpace(line)) break;
            if (input != Console.In || Console.IsInputRedirected) output.WriteLine(line);   // echo piped input so the transcript reads as a dialogue
            string prompt;
            bool special;
            if (chat.IsConversation)
            {
                messages.Add(new ChatMessage("user", line));
                prompt = chat.Render(messages, bos, eos);
                special = false;          // the rendered text carries its special tokens literally
            }
            else
            {
                prompt = chat.Name == "instruction" ? SupervisedFormatter.DefaultInstructionPrompt(new InstructionRecord(0, line, "", "")) : line;
                special = true;
            }
            var ids = loaded.Tokenizer.Encode(prompt, addSpecialTokens: special).Select(i => (long)i).ToArray();
            if (ids.Length == 0) continue;
            if (ids.Length >= loaded.Model.MaxPositions)
                throw new ArgumentException($"the conversation is {ids.Length} tokens, the model's limit is {loaded.Model.MaxPositions}; start a new chat");
            var turnConfig = config with { MaxNewTokens = Math.Min(config.MaxNewTokens, loaded.Model.MaxPositions - ids.Length) };
            var reply = new System.Text.StringBuilder();
            if (chat.Name == "plain") output.Write(line);
            GenerateCommand.Stream(loaded, ids, turnConfig, piece =>
            {
                reply.Append(piece);
                output.Write(piece);
                output.Flush();
            });
            output.WriteLine();
            if (chat.IsConversation) messages.Add(new ChatMessage("assistant", reply.ToString().Trim()));
            turns++;
        }
        output.WriteLine();
        log.WriteLine($"peft chat: {turns} turn(s)");
        return 0;
    }

    /// <summary>Tokens that end a turn in the common chat templates; those in the vocabulary that the template uses
    /// stop generation.</summary>
    private static readonly string[] EndOfTurnTokens = ["<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>"];

    /// <summary>How prompts are made: a Jinja template, a built-in chat format, or per-line "instruction"/"plain".</summary>
    /// <param name="Name">"jinja", the built-in format's name, "instruction" or "plain".</param>
    /// <param name="Description">For the log line.</param>
    /// <param name="Jinja">The parsed template, for "jinja".</param>
    /// <param name="Format">The built-in format, for chatml/llama2/llama3.</param>
    internal sealed record ChatSetup(string Name, string Description, JinjaTemplate? Jinja = null, ChatFormat? Format = null)
    {
        /// <summary>True when the conversation is kept and rendered by a template.</summary>
        public bool IsConversation => Jinja is not null || Format is not null;

        /// <summary>The prompt for <paramref name="messages"/>, ending with the opening of the assistant's turn; a
        /// template that fails or refuses the conversation is a one-line error.</summary>
        public string Render(IReadOnlyList<ChatMessage> messages, string? bos, string? eos)
        {
            if (Jinja is null) return ChatTemplate.Render(Format!.Value, messages);
            try
            {
                return ChatTemplate.Render(Jinja, messages, addGenerationPrompt: true, bos, eos);
            }
            catch (JinjaException ex)
            {
                throw new ArgumentException($"{Description}: {ex.Message}", ex);
            }
        }

        /// <summary>Whether the template may produce <paramref name="token"/> (every token, for built-in formats).</summary>
        public bool MayUse(string token) => Jinja is null || Jinja.Source.Contains(token, StringComparison.Ordinal);
    }

    /// <summary>
    /// Chooses the prompt format: <c>auto</c> uses the model's Jinja template when it parses and renders a trial
    /// conversation, else the built-in format its markers point to (saying so in <paramref name="log"/>), else plain;
    /// an existing file is read as a Jinja template (or a tokenizer_config.json holding one); other values name a
    /// built-in format, instruction or plain.
    /// </summary>
    internal static ChatSetup ResolveTemplate(string template, string modelPath, TextWriter log)
    {
        string name = template.ToLowerInvariant();
        if (name is "plain" or "instruction") return new ChatSetup(name, name);
        if (name == "auto")
        {
            var (jinja, source) = ReadModelTemplate(modelPath);
            if (jinja is null) return new ChatSetup("plain", "plain (the model has no chat template)");
            try
            {
                var parsed = JinjaTemplate.Parse(jinja);
                ChatTemplate.Render(parsed, [new ChatMessage("user", "Hello")]);   // a trial render finds unsupported filters and the like
                return new ChatSetup("jinja", $"the model's chat template ({source})", parsed);
            }
            catch (JinjaException ex)
            {
                string? fallback = FormatByMarkers(jinja);
                log.WriteLine($"peft chat: the model's chat template cannot be used ({ex.Message}); {(fallback is null ? "continuing lines as plain text" : $"using the built-in {fallback} format")}");
                return fallback is null ? new ChatSetup("plain", "plain") : BuiltIn(fallback);
            }
        }
        if (File.Exists(template))
        {
            try
            {
                return new ChatSetup("jinja", $"chat template {template}", JinjaTemplate.Parse(ReadTemplateFile(template)));
            }
            catch (JinjaException ex)
            {
                throw new ArgumentException($"--template {template}: {ex.Message}", ex);
            }
        }
        return BuiltIn(name);
    }

    private static ChatSetup BuiltIn(string name)
    {
        ChatFormat format;
        try
        {
            format = ChatTemplate.FromName(name);
        }
        catch (ArgumentException)
        {
            throw new ArgumentException($"--template '{name}' is neither a file nor a known format (auto, chatml, llama2, llama3, instruction, plain)");
        }
        return new ChatSetup(name, $"chat format {format}", Format: format);
    }

    /// <summary>The text of a template file: a tokenizer_config.json's chat_template (the "default" one when it
    /// holds a list of named templates), or the file itself.</summary>
    private static string ReadTemplateFile(string path)
    {
        string text = File.ReadAllText(path);
        if (!path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return text;
        using var doc = JsonDocument.Parse(text);
        return ChatTemplateOf(doc.RootElement) ?? throw new ArgumentException($"--template '{path}' has no chat_template");
    }

    private static string? ChatTemplateOf(JsonElement config)
    {
        if (!config.TryGetProperty("chat_template", out var t)) return null;
        if (t.ValueKind == JsonValueKind.String) return t.GetString();
        if (t.ValueKind != JsonValueKind.Array) return null;
        foreach (var named in t.EnumerateArray())       // [{"name": "default", "template": "..."}, {"name": "tool_use", ...}]
            if (named.TryGetProperty("name", out var n) && n.GetString() == "default" && named.TryGetProperty("template", out var body))
                return body.GetString();
        return null;
    }

    /// <summary>A model's Jinja chat template and where it was found (tokenizer_config.json, chat_template.jinja or
    /// GGUF metadata), or nulls.</summary>
    internal static (string? Template, string? Source) ReadModelTemplate(string model)
    {
        if (File.Exists(model) && model.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
        {
            using var gguf = GgufFile.Open(model);
            return gguf.Has("tokenizer.chat_template") ? (gguf.GetString("tokenizer.chat_template"), "GGUF tokenizer.chat_template") : (null, null);
        }
        if (!Directory.Exists(model)) return (null, null);
        string jinjaFile = Path.Combine(model, "chat_template.jinja");
        if (File.Exists(jinjaFile)) return (File.ReadAllText(jinjaFile), "chat_template.jinja");
        string path = Path.Combine(model, "tokenizer_config.json");
        if (!File.Exists(path)) return (null, null);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return ChatTemplateOf(doc.RootElement) is { } t ? (t, "tokenizer_config.json") : (null, null);
    }

    /// <summary>The built-in format a model's Jinja template resembles (by its markers), or null when it has none or
    /// resembles none of them.</summary>
    internal static string? DetectTemplate(string model) => ReadModelTemplate(model).Template is { } jinja ? FormatByMarkers(jinja) : null;

    private static string? FormatByMarkers(string jinja)
    {
        if (jinja.Contains("<|im_start|>", StringComparison.Ordinal)) return "chatml";
        if (jinja.Contains("<|start_header_id|>", StringComparison.Ordinal)) return "llama3";
        if (jinja.Contains("[INST]", StringComparison.Ordinal)) return "llama2";
        return null;
    }
}
