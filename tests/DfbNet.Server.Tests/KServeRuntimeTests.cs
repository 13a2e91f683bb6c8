using System.Net;
using System.Text.Json;
using DfbNet.Core.Onnx;
using DfbNet.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Inference = DfbNet.Protocol.Inference;

namespace DfbNet.Server.Tests;

/// <summary>
/// deploy/kserve/servingruntime.yaml's own arguments on a real server, with a model laid out as KServe mounts it
/// (the storage URI's files at /mnt/models, here a temporary folder) and the InferenceService's name for {{.Name}}:
/// clients ask for that name over gRPC and REST.
/// </summary>
public sealed class KServeRuntimeTests : IDisposable
{
    private readonly string _mount = Path.Combine(Path.GetTempPath(), "dfbnet-kserve-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(_mount, recursive: true);

    [Fact]
    public async Task RuntimeArguments_ServeTheMountedModel_UnderTheInferenceServicesName()
    {
        var models = Path.Combine(_mount, "mnt", "models");
        SyntheticModelFolder.Write(models, new SyntheticDfbNetOptions { InputSize = 32, Seed = 7 });
        var keys = Path.Combine(_mount, "api-keys");
        await File.WriteAllTextAsync(keys, "kserve:k-kserve-test-123456\n");
        var ports = LoopbackPort.Free(3);
        var (grpcPort, restPort, metricsPort) = (ports[0], ports[1], ports[2]);

        // The runtime's args as KServe passes them, with this machine's paths and free loopback ports.
        var args = RuntimeArgs()
            .Select(a => a
                .Replace("{{.Name}}", "dfbnet-cifar10", StringComparison.Ordinal)
                .Replace("/mnt/models", models, StringComparison.Ordinal)
                .Replace("/run/secrets/dfbnet/api-keys", keys, StringComparison.Ordinal)
                .Replace("0.0.0.0:9000", $"127.0.0.1:{grpcPort}", StringComparison.Ordinal)
                .Replace("0.0.0.0:8080", $"127.0.0.1:{restPort}", StringComparison.Ordinal)
                .Replace("0.0.0.0:9464", $"127.0.0.1:{metricsPort}", StringComparison.Ordinal))
            .Concat(["--DfbNet:ExecutionProviders=cpu", "--DfbNet:WarmupRuns=1", "--Logging:LogLevel:Default=Warning"])
            .ToArray();
        Assert.Contains(args, a => a.StartsWith("--DfbNet:ModelName=", StringComparison.Ordinal));

        await using var app = ServerApplication.Build(args);
        await app.StartAsync();
        try
        {
            var headers = new Metadata { { "authorization", "Bearer k-kserve-test-123456" } };
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
            var oip = new Inference.GRPCInferenceService.GRPCInferenceServiceClient(channel);
            var metadata = await oip.ModelMetadataAsync(new Inference.ModelMetadataRequest { Name = "dfbnet-cifar10" }, headers);
            Assert.Equal("dfbnet-cifar10", metadata.Name);
            var other = await Assert.ThrowsAsync<RpcException>(async () => await oip.ModelMetadataAsync(new Inference.ModelMetadataRequest { Name = "models" }, headers));
            Assert.Equal(StatusCode.NotFound, other.StatusCode);

            using var http = new HttpClient();
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://127.0.0.1:{restPort}/v2/models/dfbnet-cifar10/ready"));
            request.Headers.Add("authorization", "Bearer k-kserve-test-123456");
            using var ready = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            using var json = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
            Assert.True(json.RootElement.GetProperty("ready").GetBoolean());

            // The scrape is open for KServe's Prometheus annotations, on its own port.
            using var scrape = await http.GetAsync(new Uri($"http://127.0.0.1:{metricsPort}/metrics"));
            Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);

            // The image's HEALTHCHECK command.
            Assert.Equal(0, await HealthProbe.RunAsync([$"http://127.0.0.1:{grpcPort}"]));
        }
        finally
        {
            await app.StopAsync();
        }

        Assert.Equal(1, await HealthProbe.RunAsync([$"http://127.0.0.1:{grpcPort}"]));
    }

    /// <summary>The <c>args:</c> list of the runtime's container, read from the YAML as written.</summary>
    private static List<string> RuntimeArgs()
    {
        var file = Path.Combine(RepositoryRoot.Path, "deploy", "kserve", "servingruntime.yaml");
        var args = new List<string>();
        var inArgs = false;
        foreach (var line in File.ReadLines(file))
        {
            var trimmed = line.Trim();
            if (trimmed == "args:")
            {
                inArgs = true;
                continue;
            }

            if (inArgs && trimmed.StartsWith("- ", StringComparison.Ordinal))
            {
                args.Add(trimmed[2..].Trim());
            }
            else if (inArgs && !trimmed.StartsWith('#'))
            {
                break;
            }
        }

        return args;
    }
}
