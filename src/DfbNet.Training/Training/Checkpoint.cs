using System.Text.Json;
using System.Text.Json.Serialization;
using DfbNet.Training.Data;
using DfbNet.Training.Model;

namespace DfbNet.Training.Training;

public enum TrainingPhase
{
    Baseline,
    Joint,
    Done,
}

/// <summary>Accuracy of every exit on the validation split after one epoch.</summary>
public sealed record EpochRecord(TrainingPhase Phase, int Epoch, double Loss, float[] ValidationAccuracy, double Seconds, double ImagesPerSecond);

/// <summary>
/// The state of a run between epochs: <c>checkpoint.json</c> (this), <c>model.bin</c> (TorchSharp state dict) and
/// <c>optimizer.bin</c> in the output folder. Every random choice of an epoch is derived from (seed, phase, epoch), so
/// model + optimizer + these counters are the whole state and a resume continues bit for bit.
/// </summary>
public sealed class Checkpoint
{
    public const string FileName = "checkpoint.json";
    public const string ModelFile = "model.bin";
    public const string OptimizerFile = "optimizer.bin";

    /// <summary>The baseline as it was when its phase ended: the main branch trained alone, before any joint epoch
    /// (the paper's comparison). Its side branches are untrained and unused.</summary>
    public const string BaselineFile = "baseline.bin";

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>The run's options; settable so a resume can change the epoch counts.</summary>
    public required TrainOptions Options { get; set; }

    public required float[] Mean { get; init; }

    public required float[] Std { get; init; }

    public required IReadOnlyList<string> Classes { get; init; }

    /// <summary>The training images' source and split, for the manifest.</summary>
    public string? Dataset { get; set; }

    /// <summary>The collection trained on (CIFAR-10, or the image folder's name); null in runs from before image folders, all CIFAR-10.</summary>
    public string? DatasetName { get; set; }

    public TrainingPhase Phase { get; set; }

    /// <summary>Epochs of <see cref="Phase"/> completed.</summary>
    public int Epoch { get; set; }

    /// <summary>Wall time spent training so far, over all sessions of the run.</summary>
    public double ElapsedSeconds { get; set; }

    public string? Command { get; set; }

    public string? Machine { get; set; }

    public string? Started { get; set; }

    public string? Finished { get; set; }

    public List<EpochRecord> History { get; init; } = [];

    /// <summary>Test accuracy of each exit alone, measured when training finished (null before).</summary>
    public float[]? TestAccuracy { get; set; }

    /// <summary>How the baseline was trained, when it came with a model folder this run started from (null: this run's own
    /// baseline phase, described by its options).</summary>
    public string? BaselineDescription { get; set; }

    /// <summary>Test accuracy of the main branch right after the baseline phase, before joint training.</summary>
    public float? BaselineTestAccuracy { get; set; }

    public InputRecipe Recipe() => new(Options.Model.TestSize, Options.Model.CropSize, Options.Model.ScaleMin, Options.Model.ScaleMax, Mean, Std);

    public static Checkpoint Load(string folder)
    {
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No {FileName} in {folder}: not a training output folder.", path);
        }

        return JsonSerializer.Deserialize<Checkpoint>(File.ReadAllText(path), Json)
            ?? throw new InvalidDataException($"{path} is empty.");
    }

    /// <summary>Loads the weights stored beside the checkpoint into a fresh model.</summary>
    internal DfbNetModel LoadModel(string folder)
    {
        var model = new DfbNetModel(Options.Model);
        model.load(Path.Combine(folder, ModelFile));
        model.eval();
        return model;
    }

    /// <summary>The baseline (main branch trained alone) kept beside the run, or null for a run from before it was kept.</summary>
    internal DfbNetModel? LoadBaseline(string folder)
    {
        var path = Path.Combine(folder, BaselineFile);
        if (!File.Exists(path))
        {
            return null;
        }

        var model = new DfbNetModel(Options.Model);
        model.load(path);
        model.eval();
        return model;
    }

    /// <summary>Validation accuracy of the baseline after its last epoch (null when the run has no baseline epochs).</summary>
    public float? BaselineValidationAccuracy =>
        History.LastOrDefault(r => r.Phase == TrainingPhase.Baseline)?.ValidationAccuracy[0];

    internal void Save(string folder) => WriteAtomically(Path.Combine(folder, FileName), tmp => File.WriteAllText(tmp, JsonSerializer.Serialize(this, Json)));

    internal static void WriteAtomically(string path, Action<string> write)
    {
        var tmp = path + ".tmp";
        write(tmp);
        File.Move(tmp, path, overwrite: true);
    }
}
