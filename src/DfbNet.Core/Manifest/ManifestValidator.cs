namespace DfbNet.Core.Manifest;

/// <summary>Checks a manifest before anything is loaded, so that a bad one stops start-up with the field named.</summary>
public static class ManifestValidator
{
    /// <param name="manifest">The manifest to check.</param>
    /// <param name="path">Where it came from, for messages.</param>
    /// <param name="modelFolder">When given, stage files must exist under it.</param>
    public static void Validate(ModelManifest manifest, string path, string? modelFolder)
    {
        void Fail(string field, string problem) => throw new ManifestException(path, field, problem);

        if (manifest.SchemaVersion != ModelManifest.CurrentSchemaVersion)
        {
            Fail("schemaVersion", $"is {manifest.SchemaVersion}; this server reads schema version {ModelManifest.CurrentSchemaVersion}");
        }

        if (manifest.Classes is null || manifest.Classes.Count < 2)
        {
            Fail("classes", "needs at least two class names");
        }

        for (var i = 0; i < manifest.Classes!.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(manifest.Classes[i]))
            {
                Fail($"classes[{i}]", "is empty");
            }
        }

        var input = manifest.Input;
        if (input is null)
        {
            Fail("input", "is missing");
        }

        if (input!.Width is < 1 or > 4096)
        {
            Fail("input.width", $"is {input.Width}; expected 1..4096");
        }

        if (input.Height is < 1 or > 4096)
        {
            Fail("input.height", $"is {input.Height}; expected 1..4096");
        }

        if (input.Channels != 3)
        {
            Fail("input.channels", $"is {input.Channels}; only RGB (3) inputs are served");
        }

        var norm = input.Normalization;
        if (norm is null)
        {
            Fail("input.normalization", "is missing");
        }

        if (!(norm!.Scale > 0) || float.IsInfinity(norm.Scale))
        {
            Fail("input.normalization.scale", $"is {norm.Scale}; expected a positive number");
        }

        if (norm.Mean is null || norm.Mean.Length != 3)
        {
            Fail("input.normalization.mean", "needs three values (R, G, B)");
        }

        if (norm.Std is null || norm.Std.Length != 3)
        {
            Fail("input.normalization.std", "needs three values (R, G, B)");
        }

        for (var c = 0; c < 3; c++)
        {
            if (!float.IsFinite(norm.Mean![c]))
            {
                Fail($"input.normalization.mean[{c}]", "is not a finite number");
            }

            if (!(norm.Std![c] > 0) || !float.IsFinite(norm.Std[c]))
            {
                Fail($"input.normalization.std[{c}]", $"is {norm.Std[c]}; expected a positive number");
            }
        }

        if (manifest.Stages is null || manifest.Stages.Count < 1)
        {
            Fail("stages", "needs at least one stage");
        }

        if (manifest.Stages!.Count > ModelManifest.MaxStages)
        {
            Fail("stages", $"has {manifest.Stages.Count} stages; at most {ModelManifest.MaxStages} are served");
        }

        var stageCount = manifest.Stages!.Count;
        for (var s = 0; s < stageCount; s++)
        {
            var stage = manifest.Stages[s];
            var field = $"stages[{s}]";
            if (stage is null)
            {
                Fail(field, "is null");
            }

            if (string.IsNullOrWhiteSpace(stage!.File))
            {
                Fail($"{field}.file", "is empty");
            }

            if (Path.IsPathRooted(stage.File) || stage.File.Split('/', '\\').Contains(".."))
            {
                Fail($"{field}.file", $"'{stage.File}' must be a path inside the model folder");
            }

            if (modelFolder is not null && !File.Exists(Path.Combine(modelFolder, stage.File)))
            {
                Fail($"{field}.file", $"'{stage.File}' does not exist in {modelFolder}");
            }

            if (string.IsNullOrWhiteSpace(stage.Input))
            {
                Fail($"{field}.input", "is empty");
            }

            if (string.IsNullOrWhiteSpace(stage.LogitsOutput))
            {
                Fail($"{field}.logitsOutput", "is empty");
            }

            var last = s == stageCount - 1;
            if (!last && string.IsNullOrWhiteSpace(stage.FeatureOutput))
            {
                Fail($"{field}.featureOutput", "is empty; every stage but the last hands a trunk feature to the next");
            }

            if (last && stage.FeatureOutput is not null)
            {
                Fail($"{field}.featureOutput", "must be absent on the last stage (nothing consumes it)");
            }

            if (!last && manifest.Stages[s + 1] is { } next && next.Input != stage.FeatureOutput)
            {
                Fail($"stages[{s + 1}].input", $"'{next.Input}' does not match stages[{s}].featureOutput '{stage.FeatureOutput}'");
            }

            if (stage.Flops < 0)
            {
                Fail($"{field}.flops", "is negative");
            }

            if (stage.Parameters < 0)
            {
                Fail($"{field}.parameters", "is negative");
            }
        }

        if (manifest.Baseline is { } baseline)
        {
            if (string.IsNullOrWhiteSpace(baseline.File) || Path.IsPathRooted(baseline.File) || baseline.File.Split('/', '\\').Contains(".."))
            {
                Fail("baseline.file", $"'{baseline.File}' must be a file inside the model folder");
            }

            if (modelFolder is not null && !File.Exists(Path.Combine(modelFolder, baseline.File)))
            {
                Fail("baseline.file", $"'{baseline.File}' does not exist in {modelFolder}");
            }

            if (string.IsNullOrWhiteSpace(baseline.Input))
            {
                Fail("baseline.input", "is empty");
            }

            if (string.IsNullOrWhiteSpace(baseline.LogitsOutput))
            {
                Fail("baseline.logitsOutput", "is empty");
            }
        }

        if (manifest.Thresholds?.RefineRule is { } rule && !RefineRules.TryParse(rule, out _))
        {
            Fail("thresholds.refineRule", $"'{rule}' is not a refine rule; expected one of {RefineRules.Names}");
        }

        var thresholds = manifest.Thresholds;
        if (thresholds?.Presets is null || thresholds.Presets.Count == 0)
        {
            Fail("thresholds.presets", "needs at least one named preset");
        }

        foreach (var (name, values) in thresholds!.Presets!)
        {
            var field = $"thresholds.presets.{name}";
            if (string.IsNullOrWhiteSpace(name))
            {
                Fail("thresholds.presets", "has a preset with an empty name");
            }

            if (values is null || values.Length != stageCount)
            {
                Fail(field, $"has {values?.Length ?? 0} thresholds; the model has {stageCount} exits");
            }

            for (var i = 0; i < values!.Length; i++)
            {
                if (!(values[i] >= 0f && values[i] <= 1f))
                {
                    Fail($"{field}[{i}]", $"is {values[i]}; thresholds must lie in [0, 1]");
                }
            }
        }

        if (string.IsNullOrWhiteSpace(thresholds.Default) || !thresholds.Presets.ContainsKey(thresholds.Default))
        {
            Fail("thresholds.default", $"'{thresholds.Default}' is not one of the presets ({string.Join(", ", thresholds.Presets.Keys)})");
        }

        if (manifest.Accuracy?.Exits is { } acc && acc.Length != stageCount)
        {
            Fail("accuracy.exits", $"has {acc.Length} values; the model has {stageCount} exits");
        }
    }
}
