using DfbNet.Runtime;

namespace DfbNet.Server.Internal;

/// <summary>
/// A loaded model version and the references to it: the registry's own while it is the served version, and a lease
/// per frame or call using it. Retired (a newer version, an unload), it is disposed when its last lease ends, so that
/// frames already taken finish on the version that took them.
/// </summary>
internal sealed class ServedModel(EarlyExitEngine engine, ModelVersionFolder folder)
{
    private int _references = 1;

    public EarlyExitEngine Engine { get; } = engine;

    public ModelVersionFolder Folder { get; } = folder;

    public string Version => Folder.VersionText;

    /// <summary>Set once retired: the engine is disposed (on the thread pool) when the last lease ends.</summary>
    public Task? Disposed { get; private set; }

    /// <summary>No longer the served version (it may still be finishing frames).</summary>
    public bool Retired => _retired;

    private volatile bool _retired;

    /// <summary>A lease, or null once the model is retired and drained.</summary>
    public ModelLease? TryLease()
    {
        while (true)
        {
            var count = Volatile.Read(ref _references);
            if (count == 0)
            {
                return null;
            }

            if (Interlocked.CompareExchange(ref _references, count + 1, count) == count)
            {
                return new ModelLease(this);
            }
        }
    }

    /// <summary>Drops the registry's reference: the engine goes once no lease holds it.</summary>
    public void Retire()
    {
        _retired = true;
        Release();
    }

    internal void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            // Not on the releasing thread: that may be one of the engine's own executors, which its disposal joins.
            Disposed = Task.Run(Engine.Dispose);
        }
    }
}

/// <summary>A frame's or call's hold on a model version; disposing it more than once releases once.</summary>
internal sealed class ModelLease : IDisposable
{
    private ServedModel? _model;

    internal ModelLease(ServedModel model)
    {
        _model = model;
        Engine = model.Engine;
        Version = model.Version;
    }

    public EarlyExitEngine Engine { get; }

    public string Version { get; }

    public void Dispose() => Interlocked.Exchange(ref _model, null)?.Release();
}
