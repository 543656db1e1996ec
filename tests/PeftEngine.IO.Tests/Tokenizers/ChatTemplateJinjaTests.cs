using PeftEngine.IO.Tokenizers;
using PeftEngine.IO.Tokenizers.Jinja;

namespace PeftEngine.Tests.Tokenizers;

/// <summary>
/// The published chat templates of popular models (the <c>chat_template</c> strings of their tokenizer_config.json,
/// with JSON's escaping undone), rendered for a fixed conversation. Each expected string is worked out by hand from
/// the template's logic, as Hugging Face's <c>apply_chat_template</c> (Jinja with trim_blocks and lstrip_blocks)
/// would render it.
/// </summary>
public class ChatTemplateJinjaTests
{
    private static readonly ChatMessage[] WithSystem =
    [
        new("system", "You are terse."),
        new("user", "Hi there!"),
        new("assistant", " Hello. "),
        new("user", "What is 2+2?"),
    ];

    private static readonly ChatMessage[] WithoutSystem = WithSystem[1..];

    private static string Render(string template, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true, string? bos = null, string? eos = null) =>
        ChatTemplate.Render(JinjaTemplate.Parse(template), messages, addGenerationPrompt, bos, eos);

    // Qwen2-7B-Instruct
    private const string Qwen2 = """{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}""";

    [Fact]
    public void Qwen2_ChatMl()
    {
        Assert.Equal(
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n Hello. <|im_end|>\n" +
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
            Render(Qwen2, WithSystem));
        Assert.Equal("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi there!<|im_end|>\n",
            Render(Qwen2, WithoutSystem[..1], addGenerationPrompt: false));
        // the built-in ChatML renderer agrees
        Assert.Equal(ChatTemplate.Render(ChatFormat.ChatMl, WithoutSystem, true, "You are a helpful assistant."), Render(Qwen2, WithoutSystem));
    }

    // Qwen2.5-7B-Instruct: tool definitions and tool calls; every tag strips the layout whitespace around it
    private const string Qwen25 = """
        {%- if tools %}
            {{- '<|im_start|>system\n' }}
            {%- if messages[0]['role'] == 'system' %}
                {{- messages[0]['content'] }}
            {%- else %}
                {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
            {%- endif %}
            {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
            {%- for tool in tools %}
                {{- "\n" }}
                {{- tool | tojson }}
            {%- endfor %}
            {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
        {%- else %}
            {%- if messages[0]['role'] == 'system' %}
                {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
            {%- else %}
                {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
            {%- endif %}
        {%- endif %}
        {%- for message in messages %}
            {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
                {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
            {%- elif message.role == "assistant" %}
                {{- '<|im_start|>' + message.role }}
                {%- if message.content %}
                    {{- '\n' + message.content }}
                {%- endif %}
                {%- for tool_call in message.tool_calls %}
                    {%- if tool_call.function is defined %}
                        {%- set tool_call = tool_call.function %}
                    {%- endif %}
                    {{- '\n<tool_call>\n{"name": "' }}
                    {{- tool_call.name }}
                    {{- '", "arguments": ' }}
                    {{- tool_call.arguments | tojson }}
                    {{- '}\n</tool_call>' }}
                {%- endfor %}
                {{- '<|im_end|>\n' }}
            {%- elif message.role == "tool" %}
                {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
                    {{- '<|im_start|>user' }}
                {%- endif %}
                {{- '\n<tool_response>\n' }}
                {{- message.content }}
                {{- '\n</tool_response>' }}
                {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
                    {{- '<|im_end|>\n' }}
                {%- endif %}
            {%- endif %}
        {%- endfor %}
        {%- if add_generation_prompt %}
            {{- '<|im_start|>assistant\n' }}
        {%- endif %}
        """;

    [Fact]
    public void Qwen25_WithoutToolsIsChatMl_WithToolsListsThemAsJson()
    {
        Assert.Equal(Render(Qwen2, WithSystem), Render(Qwen25, WithSystem));
        Assert.Equal("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n",
            Render(Qwen25, WithoutSystem[..1]));

        var weather = new Dictionary<string, object?>
        {
            ["type"] = "function",
            ["function"] = new Dictionary<string, object?> { ["name"] = "get_weather", ["parameters"] = new Dictionary<string, object?> { ["type"] = "object" } },
        };
        var messages = new List<object?>
        {
            new ChatMessage("user", "Weather in Paris?"),
            new Dictionary<string, object?>
            {
                ["role"] = "assistant", ["content"] = "",
                ["tool_calls"] = new List<object?> { new Dictionary<string, object?>
                {
                    ["type"] = "function",
                    ["function"] = new Dictionary<string, object?> { ["name"] = "get_weather", ["arguments"] = new Dictionary<string, object?> { ["city"] = "Paris" } },
                } },
            },
            new ChatMessage("tool", "18C"),
        };
        string text = JinjaTemplate.Parse(Qwen25).Render(new Dictionary<string, object?>
        {
            ["messages"] = messages, ["tools"] = new List<object?> { weather }, ["add_generation_prompt"] = true,
        });
        Assert.Equal(
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n" +
            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n" +
            "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\"}}}\n</tools>\n\n" +
            "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n" +
            "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" +
            "<|im_start|>user\nWeather in Paris?<|im_end|>\n" +
            "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n" +
            "<|im_start|>user\n<tool_response>\n18C\n</tool_response><|im_end|>\n" +
            "<|im_start|>assistant\n",
            text);
    }

    // Llama-2-7b-chat-hf
    private const string Llama2 = """{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}""";

    [Fact]
    public void Llama2_FoldsTheSystemPromptIntoTheFirstTurn()
    {
        const string expected = "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there! [/INST] Hello. </s><s>[INST] What is 2+2? [/INST]";
        Assert.Equal(expected, Render(Llama2, WithSystem, bos: "<s>", eos: "</s>"));
        Assert.Equal(expected, ChatTemplate.Render(ChatFormat.Llama2, WithSystem));
        Assert.Equal("<s>[INST] Hi there! [/INST] Hello. </s><s>[INST] What is 2+2? [/INST]", Render(Llama2, WithoutSystem, bos: "<s>", eos: "</s>"));
        var ex = Assert.Throws<JinjaException>(() => Render(Llama2, [new("user", "a"), new("user", "b")], bos: "<s>", eos: "</s>"));
        Assert.True(ex.RaisedByTemplate);
        Assert.Contains("Conversation roles must alternate", ex.Message);
    }

    // Meta-Llama-3-8B-Instruct
    private const string Llama3 = """{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}""";

    [Fact]
    public void Llama3_HeadersAndTrimmedContents()
    {
        const string expected = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi there!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
        Assert.Equal(expected, Render(Llama3, WithSystem, bos: "<|begin_of_text|>", eos: "<|eot_id|>"));
        Assert.Equal(expected, ChatTemplate.Render(ChatFormat.Llama3, WithSystem));
        Assert.EndsWith("What is 2+2?<|eot_id|>", Render(Llama3, WithSystem, addGenerationPrompt: false, bos: "<|begin_of_text|>"));
    }

    // Mistral-7B-Instruct-v0.1 / v0.2
    private const string Mistral = """{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}""";

    [Fact]
    public void MistralInstruct_UserAndAssistantOnly()
    {
        Assert.Equal("<s>[INST] Hi there! [/INST] Hello. </s>[INST] What is 2+2? [/INST]", Render(Mistral, WithoutSystem, bos: "<s>", eos: "</s>"));
        var ex = Assert.Throws<JinjaException>(() => Render(Mistral, WithSystem, bos: "<s>", eos: "</s>"));
        Assert.True(ex.RaisedByTemplate);
    }

    // HuggingFaceH4/zephyr-7b-beta (also TinyLlama-1.1B-Chat): one tag per line, relying on trim_blocks
    private const string Zephyr = """
        {% for message in messages %}
        {% if message['role'] == 'user' %}
        {{ '<|user|>
        ' + message['content'] + eos_token }}
        {% elif message['role'] == 'system' %}
        {{ '<|system|>
        ' + message['content'] + eos_token }}
        {% elif message['role'] == 'assistant' %}
        {{ '<|assistant|>
        '  + message['content'] + eos_token }}
        {% endif %}
        {% if loop.last and add_generation_prompt %}
        {{ '<|assistant|>' }}
        {% endif %}
        {% endfor %}
        """;

    [Fact]
    public void Zephyr_LineLayoutIsTrimmedByTrimBlocks()
    {
        Assert.Equal("<|system|>\nYou are terse.</s>\n<|user|>\nHi there!</s>\n<|assistant|>\n Hello. </s>\n<|user|>\nWhat is 2+2?</s>\n<|assistant|>\n",
            Render(Zephyr, WithSystem, eos: "</s>"));
        Assert.Equal("<|user|>\nHi there!</s>\n", Render(Zephyr, WithoutSystem[..1], addGenerationPrompt: false, eos: "</s>"));
    }

    // google/gemma-7b-it (and gemma-2): the assistant is "model", no system role
    private const string Gemma = """{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}""";

    [Fact]
    public void Gemma_ModelRoleAndNoSystem()
    {
        Assert.Equal("<bos><start_of_turn>user\nHi there!<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
            Render(Gemma, WithoutSystem, bos: "<bos>", eos: "<eos>"));
        var ex = Assert.Throws<JinjaException>(() => Render(Gemma, WithSystem, bos: "<bos>"));
        Assert.Contains("System role not supported", ex.Message);
    }

    // microsoft/Phi-3-mini-4k-instruct
    private const string Phi3 = """{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}""";

    [Fact]
    public void Phi3_EndTokensAndEosWithoutGenerationPrompt()
    {
        Assert.Equal("<|system|>\nYou are terse.<|end|>\n<|user|>\nHi there!<|end|>\n<|assistant|>\n Hello. <|end|>\n<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n",
            Render(Phi3, WithSystem, eos: "<|endoftext|>"));
        Assert.Equal("<|user|>\nHi there!<|end|>\n<|endoftext|>", Render(Phi3, WithoutSystem[..1], addGenerationPrompt: false, eos: "<|endoftext|>"));
    }
}
