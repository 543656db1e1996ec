using System.Text;
using PeftEngine.IO.Tokenizers.Jinja;

namespace PeftEngine.IO.Tokenizers;

/// <summary>One turn of a conversation.</summary>
/// <param name="Role">"system", "user" or "assistant".</param>
/// <param name="Content">The message text.</param>
public sealed record ChatMessage(string Role, string Content);

/// <summary>Prompt formats of the common chat model families.</summary>
public enum ChatFormat
{
    /// <summary>ChatML (Qwen2/Qwen2.5/Qwen3, many others): <c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c> per message.</summary>
    ChatMl,
    /// <summary>Llama-2 chat: <c>&lt;s&gt;[INST] &lt;&lt;SYS&gt;&gt;\nsystem\n&lt;&lt;/SYS&gt;&gt;\n\nuser [/INST] answer &lt;/s&gt;</c>.</summary>
    Llama2,
    /// <summary>Llama-3 / 3.1 / 3.2 instruct: <c>&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt;</c>.</summary>
    Llama3,
}

/// <summary>
/// Renders a conversation into the prompt text a chat model was trained on. The text contains the special tokens
/// literally (e.g. "&lt;|im_start|&gt;", "&lt;s&gt;"); encode it with <c>addSpecialTokens: false</c> so the
/// tokenizer matches them as added tokens and does not add a second BOS.
/// </summary>
/// <remarks>Hugging Face equivalent: <c>tokenizer.apply_chat_template(messages, tokenize=False,
/// add_generation_prompt=...)</c> with the families' stock Jinja templates (tool calls and Qwen3's thinking
/// blocks are not handled).</remarks>
public static class ChatTemplate
{
    /// <summary>Maps a family or template name ("chatml", "qwen2", "qwen3", "llama2", "llama-3", ...) to its format.</summary>
    public static ChatFormat FromName(string name)
    {
        string n = name.ToLowerInvariant().Replace("-", "").Replace("_", "").Replace(".", "");
        if (n is "chatml" || n.StartsWith("qwen", StringComparison.Ordinal)) return ChatFormat.ChatMl;
        if (n.StartsWith("llama2", StringComparison.Ordinal)) return ChatFormat.Llama2;
        if (n.StartsWith("llama3", StringComparison.Ordinal)) return ChatFormat.Llama3;
        throw new ArgumentException($"ChatTemplate: unknown chat format '{name}' (known: chatml/qwen*, llama2, llama3).", nameof(name));
    }

    /// <summary>Renders <paramref name="messages"/> in the format named <paramref name="name"/>.</summary>
    public static string Render(string name, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true) =>
        Render(FromName(name), messages, addGenerationPrompt);

    /// <summary>
    /// Renders <paramref name="messages"/>. With <paramref name="addGenerationPrompt"/> the text ends with the
    /// opening of an assistant turn, ready for generation.
    /// </summary>
    /// <param name="format">The prompt format.</param>
    /// <param name="messages">The conversation.</param>
    /// <param name="addGenerationPrompt">Append the start of the assistant's reply.</param>
    /// <param name="defaultSystemPrompt">ChatML only: system message inserted when the conversation has none
    /// (Qwen2 uses "You are a helpful assistant.").</param>
    public static string Render(ChatFormat format, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true, string? defaultSystemPrompt = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return format switch
        {
            ChatFormat.ChatMl => RenderChatMl(messages, addGenerationPrompt, defaultSystemPrompt),
            ChatFormat.Llama2 => RenderLlama2(messages),
            ChatFormat.Llama3 => RenderLlama3(messages, addGenerationPrompt),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "ChatTemplate: unknown format."),
        };
    }

    /// <summary>
    /// Renders <paramref name="messages"/> with a model's own Jinja chat template, as Hugging Face does: the template
    /// sees <c>messages</c> (dicts with <c>role</c> and <c>content</c>), <c>add_generation_prompt</c>,
    /// <c>bos_token</c> and <c>eos_token</c> (empty strings when the tokenizer has none), plus any
    /// <paramref name="extra"/> variables (e.g. <c>tools</c>).
    /// </summary>
    /// <exception cref="JinjaException">The template fails, or refuses the conversation with raise_exception.</exception>
    /// <remarks>HF: <c>tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...)</c>.</remarks>
    public static string Render(JinjaTemplate template, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true,
        string? bosToken = null, string? eosToken = null, IReadOnlyDictionary<string, object?>? extra = null)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(messages);
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (extra is not null)
            foreach (var (k, v) in extra) variables[k] = v;
        variables["messages"] = messages;
        variables["add_generation_prompt"] = addGenerationPrompt;
        variables["bos_token"] = bosToken ?? "";
        variables["eos_token"] = eosToken ?? "";
        return template.Render(variables);
    }

    private static string RenderChatMl(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, string? defaultSystem)
    {
        var sb = new StringBuilder();
        if (defaultSystem is not null && (messages.Count == 0 || messages[0].Role != "system"))
            sb.Append("<|im_start|>system\n").Append(defaultSystem).Append("<|im_end|>\n");
        foreach (var m in messages) sb.Append("<|im_start|>").Append(m.Role).Append('\n').Append(m.Content).Append("<|im_end|>\n");
        if (addGenerationPrompt) sb.Append("<|im_start|>assistant\n");
        return sb.ToString();
    }

    // Llama-2: each user turn opens "<s>[INST] ", the system prompt is folded into the first user turn, an assistant
    // answer follows " [/INST]" with a space and is closed by " </s>". Contents are trimmed as in Meta's template.
    // The format always ends ready for the assistant after a user turn, so there is no separate generation prompt.
    private static string RenderLlama2(IReadOnlyList<ChatMessage> messages)
    {
        var sb = new StringBuilder();
        string? system = null;
        int start = 0;
        if (messages.Count > 0 && messages[0].Role == "system")
        {
            system = messages[0].Content.Trim();
            start = 1;
        }
        bool first = true;
        for (int i = start; i < messages.Count; i++)
        {
            var m = messages[i];
            switch (m.Role)
            {
                case "user":
                    string content = m.Content.Trim();
                    if (first && system is not null) content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
                    sb.Append("<s>[INST] ").Append(content).Append(" [/INST]");
                    first = false;
                    break;
                case "assistant":
                    sb.Append(' ').Append(m.Content.Trim()).Append(" </s>");
                    break;
                default:
                    throw new ArgumentException($"ChatTemplate(Llama2): role '{m.Role}' at message {i}; only a leading system message, then user/assistant turns are allowed.", nameof(messages));
            }
        }
        return sb.ToString();
    }

    private static string RenderLlama3(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var sb = new StringBuilder("<|begin_of_text|>");
        foreach (var m in messages)
            sb.Append("<|start_header_id|>").Append(m.Role).Append("<|end_header_id|>\n\n").Append(m.Content.Trim()).Append("<|eot_id|>");
        if (addGenerationPrompt) sb.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
        return sb.ToString();
    }
}
