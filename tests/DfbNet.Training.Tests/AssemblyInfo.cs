// TorchSharp's default generator and thread count are process-wide: tests that seed it (resume, init) must not
// interleave with tests that draw from it.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
