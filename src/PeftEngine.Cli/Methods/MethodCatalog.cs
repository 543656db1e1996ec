namespace PeftEngine.Cli;

/// <summary>How far a method is in this engine.</summary>
public enum MethodStatus
{
    /// <summary>Implemented, tested and usable from the library and `peft train`.</summary>
    Available,

    /// <summary>Some of it works (see <see cref="MethodCatalog.Notes"/>).</summary>
    Partial,

    /// <summary>Not implemented yet.</summary>
    Planned,
}

/// <summary>One PEFT method of the project's reading list.</summary>
/// <param name="Name">Short name.</param>
/// <param name="Paper">Paper title.</param>
/// <param name="Venue">Venue and year.</param>
/// <param name="InjectionPoint">Where it plugs in (1–10, docs/ARCHITECTURE.md "PEFT framework").</param>
/// <param name="Status">How far it is.</param>
/// <param name="OtherTechnique">True for the "PEFT with other techniques" list (federated, zeroth-order, mixtures).</param>
public sealed record MethodInfo(string Name, string Paper, string Venue, int InjectionPoint, MethodStatus Status, bool OtherTechnique);

/// <summary>Every method of the reading list with its status, shown by <c>peft methods</c>.</summary>
public static class MethodCatalog
{
    /// <summary>The ten injection points of the PEFT framework.</summary>
    public static readonly string[] InjectionPoints =
    [
        "", "wrap a Linear/Embedding/Conv", "insert a module in series or parallel", "virtual tokens on the input",
        "prefix keys/values in attention", "rescale activations", "intervene on hidden states", "train a masked subset",
        "mix adapters with a gate", "change the optimizer or procedure", "initialise from weights or data",
    ];

    /// <summary>What is there of a method: for a partial one what works, for an available one how to use it and its limits.</summary>
    public static readonly IReadOnlyDictionary<string, string> Notes = new Dictionary<string, string>
    {
        ["PiSSA"] = "pissa and pissa_niter_N initialisation of Linear layers (peft train --init pissa); the trained adapter is saved converted to a rank-2r LoRA of the original base, as HF with path_initial_model_for_weight_conversion (the initial adapter is kept in pissa_init/)",
        ["(IA)3"] = "peft train --method ia3 (HF default targets, --feedforward-modules); HF IA3 files load and save, merge, weighted combination",
        ["BitFit"] = "peft train --method bitfit on models with biases (GPT-2, BERT, Qwen2, LLaMA with attention_bias); the shipped tiny-llama has none, so there it is refused; saved as peft_type BITFIT with the tuned biases under the base keys",
        ["LN tuning"] = "peft train --method ln_tuning (the RMSNorm/LayerNorm layers by default); HF LN_TUNING files",
        ["LoftQ"] = "4-bit NF4 LoftQ on full-precision Linear bases (peft train --init loftq --load-in-4bit); replace_lora_weights_loftq on an already quantized base is not implemented",
        ["Adapter tuning (Houlsby)"] = "peft train --method houlsby (--bottleneck-size, --non-linearity); series bottleneck adapters (peft_type BOTTLENECK) on GPT-2, LLaMA and BERT with named adapters, disable, save/load; not mergeable",
        ["AdapterFusion"] = "peft train --method adapter_fusion --fuse DIR1,DIR2 over trained houlsby adapters (AdapterFusionConfig, peft_type ADAPTER_FUSION; the folder keeps the fusion at its root and the fused adapters in subfolders, which eval/generate/chat --adapter load); the W_V regulariser is in the library API; not mergeable",
        ["MAM Adapter / Parallel Adapter"] = "peft train --method parallel: the scaled parallel adapter beside the FFN (BottleneckConfig.Parallel) on GPT-2 and LLaMA; MAM's prefix half and parallel adapters beside attention or in BERT are not implemented",
        ["ReFT (LoReFT)"] = "peft train --method loreft or direft (--rank, --reft-layers, --reft-positions) on LLaMA-family and GPT-2 models (and unpadded BERT from the library); save/load, generation; not mergeable",
        ["QLoRA"] = "LoRA/DoRA on NF4/FP4 bases with double quantization (peft train --load-in-4bit, which every other method accepts too: IA3, BitFit, LN tuning, bottleneck adapters, prompt/prefix tuning, ReFT and AdapterFusion train over the frozen 4-bit base); paged optimizers are not implemented",
        ["Prefix tuning"] = "peft train --method prefix_tuning (--num-virtual-tokens, --prefix-projection); PrefixTuningConfig, GQA-sized, HF adapter files, on GPT-2 and the LLaMA family; BERT not supported",
        ["Prompt tuning"] = "peft train --method prompt_tuning (--num-virtual-tokens, --prompt-init random/sample_vocab/text); HF adapter files, on GPT-2 and the LLaMA family; BERT not supported",
        ["P-tuning v2"] = "as HF: PrefixTuningConfig without prefix_projection (deep prompts at every layer) for causal LMs; no classification heads (modules_to_save) with prompt learning yet",
    };

    /// <summary>All methods, in the order of the reading list.</summary>
    public static readonly IReadOnlyList<MethodInfo> All =
    [
        new("Adapter tuning (Houlsby)", "Parameter-Efficient Transfer Learning for NLP", "ICML 2019", 2, MethodStatus.Available, OtherTechnique: false),
        new("Single Adapter", "Simple, Scalable Adaptation for Neural Machine Translation", "EMNLP 2019", 2, MethodStatus.Planned, OtherTechnique: false),
        new("VLM", "Exploring Versatile Generative Language Model Via Parameter-Efficient Transfer Learning", "EMNLP 2020 Findings", 2, MethodStatus.Planned, OtherTechnique: false),
        new("AdapterFusion", "AdapterFusion: Non-destructive task composition for transfer learning", "EACL 2021", 8, MethodStatus.Available, OtherTechnique: false),
        new("AdapterDrop", "AdapterDrop: On the efficiency of adapters in transformers", "EMNLP 2021", 2, MethodStatus.Planned, OtherTechnique: false),
        new("Prefix tuning", "Prefix-Tuning: Optimizing Continuous Prompts for Generation", "ACL 2021", 4, MethodStatus.Available, OtherTechnique: false),
        new("Prompt tuning", "The Power of Scale for Parameter-Efficient Prompt Tuning", "EMNLP 2021", 3, MethodStatus.Available, OtherTechnique: false),
        new("DiffPruning", "Parameter-Efficient Transfer Learning with Diff Pruning", "ACL 2021", 7, MethodStatus.Planned, OtherTechnique: false),
        new("Compacter", "Compacter: Efficient low-rank hypercomplex adapter layers", "NeurIPS 2021", 2, MethodStatus.Planned, OtherTechnique: false),
        new("Fish-Mask", "Training Neural Networks with Fixed Sparse Masks", "NeurIPS 2021", 7, MethodStatus.Planned, OtherTechnique: false),
        new("MAM Adapter / Parallel Adapter", "Towards a Unified View of Parameter-Efficient Transfer Learning", "ICLR 2022", 2, MethodStatus.Partial, OtherTechnique: false),
        new("UniPELT", "UniPELT: A Unified Framework for Parameter-Efficient Language Model Tuning", "ACL 2022", 8, MethodStatus.Planned, OtherTechnique: false),
        new("P-tuning v2", "P-Tuning v2: Prompt Tuning Can Be Comparable to Fine-tuning Universally Across Scales and Tasks", "ACL 2022", 4, MethodStatus.Partial, OtherTechnique: false),
        new("BitFit", "BitFit: Simple Parameter-efficient Fine-tuning for Transformer-based Masked Language-models", "ACL 2022", 7, MethodStatus.Available, OtherTechnique: false),
        new("FedPara", "FedPara: Low-rank Hadamard Product for Communication-Efficient Federated Learning", "ICLR 2022", 1, MethodStatus.Planned, OtherTechnique: false),
        new("LoRA", "LoRA: Low-Rank Adaptation of Large Language Models", "ICLR 2022", 1, MethodStatus.Available, OtherTechnique: false),
        new("FAR", "Efficient Fine-Tuning of BERT Models on the Edge", "ISCAS 2022", 7, MethodStatus.Planned, OtherTechnique: false),
        new("SparseAdapter", "SparseAdapter: An Easy Approach for Improving the Parameter-Efficiency of Adapters", "EMNLP 2022 Findings", 2, MethodStatus.Planned, OtherTechnique: false),
        new("(IA)3", "Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper than In-Context Learning", "NeurIPS 2022", 5, MethodStatus.Available, OtherTechnique: false),
        new("AdaMix", "AdaMix: Mixture-of-Adaptations for Parameter-efficient Model Tuning", "EMNLP 2022", 2, MethodStatus.Planned, OtherTechnique: false),
        new("AdaLoRA", "Adaptive budget allocation for parameter-efficient fine-tuning", "ICLR 2023", 9, MethodStatus.Planned, OtherTechnique: false),
        new("QLoRA", "QLoRA: Efficient Finetuning of Quantized LLMs", "NeurIPS 2023", 1, MethodStatus.Available, OtherTechnique: false),
        new("KronA", "KronA: Parameter efficient tuning with Kronecker adapter", "NeurIPS 2023 Workshop", 1, MethodStatus.Planned, OtherTechnique: false),
        new("OFT", "Controlling Text-to-Image Diffusion by Orthogonal Finetuning", "NeurIPS 2023", 1, MethodStatus.Planned, OtherTechnique: false),
        new("MPT", "Multitask Prompt Tuning Enables Parameter-Efficient Transfer Learning", "ICLR 2023", 3, MethodStatus.Planned, OtherTechnique: false),
        new("P-tuning", "GPT Understands, Too", "AI Open 2024", 3, MethodStatus.Planned, OtherTechnique: false),
        new("LoRA+", "LoRA+: Efficient Low Rank Adaptation of Large Models", "ICML 2024", 9, MethodStatus.Available, OtherTechnique: false),
        new("VeRA", "Vector-based Random Matrix Adaptation", "ICLR 2024", 1, MethodStatus.Planned, OtherTechnique: false),
        new("LN tuning", "Tuning LayerNorm in Attention: Towards Efficient Multi-Modal LLM Finetuning", "ICLR 2024", 7, MethodStatus.Available, OtherTechnique: false),
        new("BOFT", "Parameter-Efficient Orthogonal Finetuning via Butterfly Factorization", "ICLR 2024", 1, MethodStatus.Planned, OtherTechnique: false),
        new("LyCORIS (LoHa, LoKr)", "Navigating Text-To-Image Customization: From LyCORIS Fine-Tuning to Model Evaluation", "ICLR 2024", 1, MethodStatus.Planned, OtherTechnique: false),
        new("LoftQ", "LoftQ: LoRA-Fine-Tuning-Aware Quantization for Large Language Models", "ICLR 2024", 10, MethodStatus.Available, OtherTechnique: false),
        new("ReLoRA", "ReLoRA: High-Rank Training Through Low-Rank Updates", "ICLR 2024", 9, MethodStatus.Planned, OtherTechnique: false),
        new("DoRA", "DoRA: Weight-Decomposed Low-Rank Adaptation", "ICML 2024", 1, MethodStatus.Available, OtherTechnique: false),
        new("RoSA", "RoSA: Accurate Parameter-Efficient Fine-Tuning via Robust Adaptation", "ICML 2024", 1, MethodStatus.Planned, OtherTechnique: false),
        new("FourierFT", "Parameter-Efficient Fine-Tuning with Discrete Fourier Transform", "ICML 2024", 1, MethodStatus.Planned, OtherTechnique: false),
        new("MEFT", "MEFT: Memory-Efficient Fine-Tuning through Sparse Adapter", "ACL 2024", 2, MethodStatus.Planned, OtherTechnique: false),
        new("COLA", "Chain of LoRA: Efficient Fine-tuning of Language Models via Residual Learning", "ICML 2024", 9, MethodStatus.Planned, OtherTechnique: false),
        new("HydraLoRA", "HydraLoRA: An Asymmetric LoRA Architecture for Efficient Fine-Tuning", "NeurIPS 2024", 8, MethodStatus.Planned, OtherTechnique: false),
        new("S2FT", "S2FT: Efficient, Scalable and Generalizable LLM Fine-tuning by Structured Sparsity", "NeurIPS 2024", 7, MethodStatus.Planned, OtherTechnique: false),
        new("VB-LoRA", "VB-LoRA: Extreme Parameter Efficient Fine-Tuning with Vector Banks", "NeurIPS 2024", 1, MethodStatus.Planned, OtherTechnique: false),
        new("HRA", "Bridging The Gap between Low-rank and Orthogonal Adaptation via Householder Reflection Adaptation", "NeurIPS 2024", 1, MethodStatus.Planned, OtherTechnique: false),
        new("PiSSA", "PiSSA: Principal Singular Values and Singular Vectors Adaptation of Large Language Models", "NeurIPS 2024", 10, MethodStatus.Available, OtherTechnique: false),
        new("CorDA", "CorDA: Context-Oriented Decomposition Adaptation of Large Language Models", "NeurIPS 2024", 10, MethodStatus.Planned, OtherTechnique: false),
        new("LoRA-GA", "LoRA-GA: Low-Rank Adaptation with Gradient Approximation", "NeurIPS 2024", 10, MethodStatus.Planned, OtherTechnique: false),
        new("ReFT (LoReFT)", "ReFT: Representation Finetuning for Language Models", "NeurIPS 2024", 6, MethodStatus.Available, OtherTechnique: false),
        new("EVA", "One Initialization to Rule them All: Fine-tuning via Explained Variance Adaptation", "NeurIPS 2024 Workshop", 10, MethodStatus.Planned, OtherTechnique: false),
        new("SVFT", "SVFT: Parameter-Efficient Fine-Tuning with Singular Vectors", "NeurIPS 2024 Workshop", 1, MethodStatus.Planned, OtherTechnique: false),
        new("ALoRA", "ALoRA: Allocating Low-Rank Adaptation for Fine-tuning Large Language Models", "NAACL 2024", 9, MethodStatus.Planned, OtherTechnique: false),
        new("X-LoRA", "X-LoRA: Mixture of low-rank adapter experts", "APL Machine Learning 2024", 8, MethodStatus.Planned, OtherTechnique: false),
        new("MiLoRA", "MiLoRA: Harnessing Minor Singular Components for Parameter-Efficient LLM Finetuning", "NAACL 2025", 10, MethodStatus.Planned, OtherTechnique: false),
        new("HiRA", "HiRA: Parameter-Efficient Hadamard High-Rank Adaptation for Large Language Models", "ICLR 2025", 1, MethodStatus.Planned, OtherTechnique: false),
        new("BeamLoRA", "BeamLoRA: Beam-Constraint Low-Rank Adaptation", "ACL 2025", 9, MethodStatus.Planned, OtherTechnique: false),
        new("LoRA-Pro", "LoRA-Pro: Are Low-Rank Adapters Properly Optimized?", "ICLR 2025", 9, MethodStatus.Planned, OtherTechnique: false),
        new("LoRMA", "LoRMA: Low-Rank Multiplicative Adaptation for LLMs", "ACL 2025 Findings", 1, MethodStatus.Planned, OtherTechnique: false),
        new("rsLoRA", "A Rank Stabilization Scaling Factor for Fine-Tuning with LoRA", "arXiv 2023", 1, MethodStatus.Available, OtherTechnique: false),
        new("AutoFedNLP", "Efficient Federated Learning for Modern NLP", "MobiCom 2023", 9, MethodStatus.Planned, OtherTechnique: true),
        new("FedPETuning", "FedPETuning: When Federated Learning Meets the Parameter-Efficient Tuning Methods of Pre-trained Language Models", "ACL 2023 Findings", 9, MethodStatus.Planned, OtherTechnique: true),
        new("MeZO", "Fine-Tuning Language Models with Just Forward Passes", "NeurIPS 2023", 9, MethodStatus.Planned, OtherTechnique: true),
        new("SLoRA", "SLoRA: Federated Parameter Efficient Fine-Tuning of Language Models", "NeurIPS 2023", 9, MethodStatus.Planned, OtherTechnique: true),
        new("LoraHub", "LoraHub: Efficient Cross-Task Generalization via Dynamic LoRA Composition", "COLM 2024", 8, MethodStatus.Planned, OtherTechnique: true),
        new("FLoRA", "FLoRA: Federated Fine-Tuning Large Language Models with Heterogeneous Low-Rank Adaptations", "NeurIPS 2024", 9, MethodStatus.Planned, OtherTechnique: true),
        new("FlexLoRA", "Federated Fine-tuning of Large Language Models under Heterogeneous Tasks and Client Resources", "NeurIPS 2024", 9, MethodStatus.Planned, OtherTechnique: true),
        new("MoV / MoLoRA", "Pushing Mixture of Experts to the Limit: Extremely Parameter Efficient MoE for Instruction Tuning", "ICLR 2024", 8, MethodStatus.Planned, OtherTechnique: true),
        new("FwdLLM", "FwdLLM: Efficient Federated Finetuning of Large Language Models with Perturbed Inferences", "USENIX ATC 2024", 9, MethodStatus.Planned, OtherTechnique: true),
        new("ZO-Bench", "Revisiting Zeroth-Order Optimization for Memory-Efficient LLM Fine-Tuning: A Benchmark", "ICML 2024", 9, MethodStatus.Planned, OtherTechnique: true),
    ];
}
