using System.ComponentModel;
using System.Text.Json;
using PeftEngine.IO.Datasets;
using PeftEngine.IO.Gguf;
using PeftEngine.IO.Tokenizers;
using ChatMessage = PeftEngine.IO.Tokenizers.ChatMessage;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary>
/// <c>peft chat</c>: reads a message per line from standard input and streams the model's reply after each. With a
/// chat format (the model's own, found in tokenizer_config.json or the GGUF metadata, or one named by
/// <c>--template</c>) the whole conversation is kept and rendered each turn; with <c>instruction</c> every line is
/// asked as an Alpaca instruction (the format <c>peft train</c> fine-tunes on); with <c>plain</c> every line is simply
/// continued. An empty line or end of input ends the session, so piped input works too.
/// </summary>
/// <remarks>HF: a loop over tokenizer.apply_chat_template(messages, add_generation_prompt=True) + model.generate
/// with a TextStreamer.</remarks>
public sealed class ChatCommand : Command<ChatCommand.Settings>
{
    /// <summary>Options of <c>peft chat</c>.</summary>
    public sealed class Settings : GenerateCommand.SamplingSettings
    {
        [CommandOption("--template <TEMPLATE>"), Description("auto (the model's chat format if it has one, else plain), chatml, llama2, llama3, instruction (Alpaca prompt per line) or plain (continue each line) (default: auto)")]
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
        string template = settings.Template.ToLowerInvariant() == "auto" ? DetectTemplate(loaded.Path) ?? "plain" : settings.Template.ToLowerInvariant();
        ChatFormat? format = template is "plain" or "instruction" ? null : ChatTemplate.FromName(template);
        var stop = loaded.StopTokenIds.ToList();
        foreach (var end in new[] { "<|im_end|>", "<|eot_id|>" })   // the end-of-turn tokens of the chat formats
            if (format is not null && loaded.Tokenizer.TokenToId(end) is int id && !stop.Contains(id)) stop.Add(id);
        var config = settings.ToConfig(stop, defaultMaxNewTokens: 128);
        log.WriteLine($"peft chat: {loaded.Path}{(settings.Adapter is null ? "" : $" + adapter {settings.Adapter}")}, {(format is null ? template : $"chat format {format}")}; an empty line or end of input quits");

        var messages = new List<ChatMessage>();
        if (settings.System is { } system && format is not null) messages.Add(new ChatMessage("system", system));
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
            if (format is { } f)
            {
                messages.Add(new ChatMessage("user", line));
                prompt = ChatTemplate.Render(f, messages);
                special = false;          // the rendered text carries its special tokens literally
            }
            else
            {
                prompt = template == "instruction" ? SupervisedFormatter.DefaultInstructionPrompt(new InstructionRecord(0, line, "", "")) : line;
                special = true;
            }
            var ids = loaded.Tokenizer.Encode(prompt, addSpecialTokens: special).Select(i => (long)i).ToArray();
            if (ids.Length == 0) continue;
            if (ids.Length >= loaded.Model.MaxPositions)
                throw new ArgumentException($"the conversation is {ids.Length} tokens, the model's limit is {loaded.Model.MaxPositions}; start a new chat");
            var turnConfig = config with { MaxNewTokens = Math.Min(config.MaxNewTokens, loaded.Model.MaxPositions - ids.Length) };
            var reply = new System.Text.StringBuilder();
            if (format is null && template == "plain") output.Write(line);
            GenerateCommand.Stream(loaded, ids, turnConfig, piece =>
            {
                reply.Append(piece);
                output.Write(piece);
                output.Flush();
            });
            output.WriteLine();
            if (format is not null) messages.Add(new ChatMessage("assistant", reply.ToString().Trim()));
            turns++;
        }
        output.WriteLine();
        log.WriteLine($"peft chat: {turns} turn(s)");
        return 0;
    }

    /// <summary>The chat format a model declares: a Jinja chat_template in tokenizer_config.json or in GGUF metadata,
    /// recognised by its markers; null when there is none (or it is not one of the known formats).</summary>
    internal static string? DetectTemplate(string model)
    {
        string? jinja = null;
        if (File.Exists(model) && model.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
        {
            using var gguf = GgufFile.Open(model);
            if (gguf.Has("tokenizer.chat_template")) jinja = gguf.GetString("tokenizer.chat_template");
        }
        else if (Path.Combine(model, "tokenizer_config.json") is var path && File.Exists(path))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            if (doc.RootElement.TryGetProperty("chat_template", out var t) && t.ValueKind == JsonValueKind.String) jinja = t.GetString();
        }
        if (jinja is null) return null;
        if (jinja.Contains("<|im_start|>", StringComparison.Ordinal)) return "chatml";
        if (jinja.Contains("<|start_header_id|>", StringComparison.Ordinal)) return "llama3";
        if (jinja.Contains("[INST]", StringComparison.Ordinal)) return "llama2";
        return null;
    }
}
