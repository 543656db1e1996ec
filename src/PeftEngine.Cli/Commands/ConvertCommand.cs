using System.ComponentModel;
using PeftEngine.IO.Onnx;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary>
/// <c>peft convert FILE --out DIR</c>: a GGUF file becomes a Hugging Face causal-LM folder (what <c>peft export
/// --model FILE</c> writes), an ONNX BERT-family graph (e.g. all-MiniLM-L6-v2's model.onnx) an HF BERT folder
/// (config.json, model.safetensors, and vocab.txt with tokenizer_config.json when a vocabulary is given or lies beside
/// the file), through the importer behind <c>peft import-minilm</c>.
/// </summary>
/// <remarks>HF: optimum's ONNX export run backwards; transformers' GGUF loading followed by save_pretrained.</remarks>
public sealed class ConvertCommand : Command<ConvertCommand.Settings>
{
    /// <summary>Options of <c>peft convert</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<FILE>"), Description("A .gguf file (LLaMA family) or a .onnx BERT-family encoder")]
        public string File { get; init; } = "";

        [CommandOption("-o|--out <DIR>"), Description("Folder to write (required)")]
        public string? Out { get; init; }

        [CommandOption("--dtype <DTYPE>"), Description("GGUF: weight dtype of model.safetensors: f32, bf16 or f16 (default: f32)")]
        public string Dtype { get; init; } = "f32";

        [CommandOption("--vocab <FILE>"), Description("ONNX: the WordPiece vocab.txt (default: vocab.txt beside the .onnx file, if there)")]
        public string? Vocab { get; init; }

        [CommandOption("--cased"), Description("ONNX: the tokenizer keeps case (default: lowercase, as uncased BERT and MiniLM)")]
        public bool Cased { get; init; }

        [CommandOption("--max-length <N>"), Description("ONNX: model_max_length of tokenizer_config.json (default: max_position_embeddings)")]
        public int? MaxLength { get; init; }
    }

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        string output = s.Out ?? throw new ArgumentException("--out is required");
        if (!System.IO.File.Exists(s.File)) throw new FileNotFoundException($"convert: '{s.File}' not found", s.File);
        string ext = Path.GetExtension(s.File).ToLowerInvariant();
        if (ext == ".gguf") return ExportCommand.Run(new ExportCommand.Settings { Model = s.File, Out = output, Dtype = s.Dtype });
        if (ext != ".onnx") throw new ArgumentException($"convert: '{s.File}' is neither a .gguf nor a .onnx file");
        return Onnx(s.File, output, s.Vocab, s.Cased, s.MaxLength);
    }

    /// <summary>Converts a BERT-family ONNX graph to an HF BERT folder.</summary>
    internal static int Onnx(string file, string output, string? vocabPath, bool cased, int? maxLength)
    {
        if (Path.GetFullPath(output) == Path.GetFullPath(Path.GetDirectoryName(Path.GetFullPath(file))!))
            throw new ArgumentException("--out must differ from the folder of the ONNX file");
        string beside = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, "vocab.txt");
        if (vocabPath is not null && !System.IO.File.Exists(vocabPath)) throw new FileNotFoundException($"convert: --vocab '{vocabPath}' not found", vocabPath);
        vocabPath ??= System.IO.File.Exists(beside) ? beside : null;
        var model = OnnxModelReader.Load(file);
        using var import = BertOnnxImporter.Convert(model.Graph, file);
        byte[]? vocab = vocabPath is null ? null : System.IO.File.ReadAllBytes(vocabPath);
        import.SaveHfFolder(output, vocab, lowercase: !cased, modelMaxLength: maxLength);
        var c = import.Config;
        Console.WriteLine($"read {file}: BERT with {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, {c.NumAttentionHeads} heads, FFN {c.IntermediateSize}, vocab {c.VocabSize}");
        foreach (var name in new[] { "config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json" })
            if (System.IO.File.Exists(Path.Combine(output, name)))
                Console.WriteLine($"  wrote {Path.Combine(output, name)} ({new FileInfo(Path.Combine(output, name)).Length:N0} bytes)");
        if (vocab is null) Console.WriteLine("  no vocab.txt given or beside the file: the folder has no tokenizer (pass --vocab FILE)");
        return 0;
    }
}
