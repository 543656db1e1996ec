namespace PeftEngine.IO.Datasets;

/// <summary>Turns plain text into fixed-length token windows for language modelling.</summary>
/// <remarks>HF: the <c>group_texts</c> step of run_clm.py (tokenise, concatenate, cut into blocks).</remarks>
public static class TextChunker
{
    /// <summary>
    /// Tokenises <paramref name="text"/> and cuts the ids into windows of <paramref name="windowLength"/> tokens,
    /// starting every <paramref name="stride"/> tokens (default: the window length, i.e. no overlap). A shorter last
    /// window is kept unless <paramref name="dropLast"/>. Each window's labels are its ids.
    /// </summary>
    public static List<TrainingExample> Chunk(string text, Func<string, int[]> tokenize, int windowLength, int? stride = null, bool dropLast = false)
    {
        if (windowLength <= 0) throw new ArgumentOutOfRangeException(nameof(windowLength), windowLength, "TextChunker: the window length must be positive");
        int step = stride ?? windowLength;
        if (step <= 0) throw new ArgumentOutOfRangeException(nameof(stride), step, "TextChunker: the stride must be positive");
        int[] ids = tokenize(text);
        var result = new List<TrainingExample>();
        for (int start = 0; start < ids.Length; start += step)
        {
            int end = Math.Min(start + windowLength, ids.Length);
            if (end - start < windowLength && dropLast) break;
            result.Add(TrainingExample.LanguageModelling(ids[start..end]));
            if (end == ids.Length) break;
        }
        return result;
    }

    /// <summary>Reads a UTF-8 text file and chunks it with <see cref="Chunk"/>.</summary>
    public static List<TrainingExample> ChunkFile(string path, Func<string, int[]> tokenize, int windowLength, int? stride = null, bool dropLast = false) =>
        Chunk(File.ReadAllText(path), tokenize, windowLength, stride, dropLast);
}
