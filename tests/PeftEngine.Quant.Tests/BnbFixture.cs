using System.Text.Json;

namespace PeftEngine.Tests;

/// <summary>The reference quantizations of Fixtures/bnb/bnb_fixture.json (made by make_fixture.py beside it).</summary>
internal sealed class BnbFixture
{
    private static readonly Lazy<BnbFixture> Shared = new(() => new BnbFixture(
        Path.Combine(AppContext.BaseDirectory, "Fixtures", "bnb", "bnb_fixture.json")));

    public static BnbFixture Instance => Shared.Value;

    private BnbFixture(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        DynamicMap = F32(root.GetProperty("dynamic_map"));
        Cases = root.GetProperty("cases").EnumerateArray().Select(c => new Case(c)).ToArray();
        var b8 = root.GetProperty("blockwise8");
        Blockwise8Values = F32(b8.GetProperty("values"));
        Blockwise8Indices = U8(b8.GetProperty("indices"));
        Blockwise8Absmax = F32(b8.GetProperty("absmax"));
        Blockwise8BlockSize = b8.GetProperty("blocksize").GetInt32();
    }

    public float[] DynamicMap { get; }
    public Case[] Cases { get; }
    public float[] Blockwise8Values { get; }
    public byte[] Blockwise8Indices { get; }
    public float[] Blockwise8Absmax { get; }
    public int Blockwise8BlockSize { get; }

    public Case Get(string name) => Cases.Single(c => c.Name == name);

    public sealed class Case
    {
        public Case(JsonElement c)
        {
            Name = c.GetProperty("name").GetString()!;
            Rows = c.GetProperty("rows").GetInt32();
            Cols = c.GetProperty("cols").GetInt32();
            QuantType = c.GetProperty("quant_type").GetString()!;
            BlockSize = c.GetProperty("blocksize").GetInt32();
            DoubleQuant = c.GetProperty("double_quant").GetBoolean();
            Weight = F32(c.GetProperty("weight"));
            Packed = U8(c.GetProperty("packed"));
            Absmax = F32(c.GetProperty("absmax"));
            Dequantized = F32(c.GetProperty("dequantized"));
            if (DoubleQuant)
            {
                QuantizedAbsmax = U8(c.GetProperty("quantized_absmax"));
                NestedAbsmax = F32(c.GetProperty("nested_absmax"));
                NestedOffset = c.GetProperty("nested_offset").GetSingle();
            }
        }

        public string Name { get; }
        public int Rows { get; }
        public int Cols { get; }
        public string QuantType { get; }
        public int BlockSize { get; }
        public bool DoubleQuant { get; }
        public float[] Weight { get; }
        public byte[] Packed { get; }
        public float[] Absmax { get; }
        public float[] Dequantized { get; }
        public byte[]? QuantizedAbsmax { get; }
        public float[]? NestedAbsmax { get; }
        public float NestedOffset { get; }
        public override string ToString() => Name;
    }

    private static float[] F32(JsonElement e)
    {
        var bytes = Convert.FromBase64String(e.GetString()!);
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }

    private static byte[] U8(JsonElement e) => Convert.FromBase64String(e.GetString()!);
}
