using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DfbNet.Runtime.Tests;
using DfbNet.Testing;

namespace DfbNet.Server.Tests;

/// <summary>The Open Inference Protocol over REST/JSON (KServe v2 HTTP) on a real server's DfbNet:RestUrl listener,
/// with .NET's HttpClient and with clients not ours: curl and Python's urllib.</summary>
public sealed class RestTests : IAsyncLifetime, IDisposable
{
    private static readonly byte[] Png = ImageEncoding.EncodePng(CifarSlice.Hwc(3), 32, 32);
    private readonly int _port = LoopbackPort.Free();
    private readonly HttpClient _http = new();
    private TestServer _server = null!;

    private string Base => $"http://127.0.0.1:{_port}";

    public async Task InitializeAsync() =>
        _server = await TestServer.StartAsync($"--DfbNet:RestUrl=http://127.0.0.1:{_port}", "--DfbNet:MaxMessageBytes=1048576");

    public void Dispose() => _http.Dispose();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task HealthAndMetadata_AnswerAsTheSpecDefines()
    {
        Assert.True((await GetJson("/v2/health/live"))["live"]!.GetValue<bool>());
        Assert.True((await GetJson("/v2/health/ready"))["ready"]!.GetValue<bool>());

        var server = await GetJson("/v2");
        Assert.Equal("dfbnet", server["name"]!.GetValue<string>());
        Assert.Contains("classification", server["extensions"]!.AsArray().Select(e => e!.GetValue<string>()));

        var model = await GetJson("/v2/models/tiny");
        Assert.Equal("tiny", model["name"]!.GetValue<string>());
        Assert.Equal(["1"], model["versions"]!.AsArray().Select(v => v!.GetValue<string>()));
        var image = model["inputs"]!.AsArray().Single(i => i!["name"]!.GetValue<string>() == "IMAGE")!;
        Assert.Equal("BYTES", image["datatype"]!.GetValue<string>());
        Assert.Equal([1L], image["shape"]!.AsArray().Select(d => d!.GetValue<long>()));
        Assert.Equal([1L, 10], model["outputs"]![0]!["shape"]!.AsArray().Select(d => d!.GetValue<long>()));

        Assert.True((await GetJson("/v2/models/tiny/versions/1/ready"))["ready"]!.GetValue<bool>());
        using var missing = await _http.GetAsync(new Uri(Base + "/v2/models/nope"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("'nope' is not served", (await ErrorOf(missing)), StringComparison.Ordinal);
        using var version = await _http.GetAsync(new Uri(Base + "/v2/models/tiny/versions/7/ready"));
        Assert.Equal(HttpStatusCode.NotFound, version.StatusCode);
    }

    [Fact]
    public async Task Infer_ImageAsBase64_FrameAsUint8_TensorAsFp32_AllGiveTheSameAnswer()
    {
        var hwc = CifarSlice.Hwc(3);
        var image = await Infer("tiny", new JsonObject
        {
            ["id"] = "img",
            ["inputs"] = new JsonArray(Input("IMAGE", "BYTES", [1], new JsonArray(Convert.ToBase64String(Png)))),
        });
        Assert.Equal("img", image["id"]!.GetValue<string>());
        Assert.Equal("tiny", image["model_name"]!.GetValue<string>());
        Assert.Equal("1", image["model_version"]!.GetValue<string>());
        var output = image["outputs"]![0]!;
        Assert.Equal("PROBABILITIES", output["name"]!.GetValue<string>());
        Assert.Equal("FP32", output["datatype"]!.GetValue<string>());
        var probabilities = output["data"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
        Assert.Equal(10, probabilities.Length);
        Assert.Equal(1, probabilities.Sum(), 3);
        Assert.True(image["parameters"]!["final"]!.GetValue<bool>());

        // The same pixels as UINT8 [32, 32, 3] in JSON: PNG is lossless, so the same probabilities.
        var frame = await Infer("tiny", new JsonObject
        {
            ["inputs"] = new JsonArray(Input("FRAME", "UINT8", [32, 32, 3], new JsonArray([.. hwc.Select(b => (JsonNode)b)]))),
        });
        var frameProbabilities = frame["outputs"]![0]!["data"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
        Assert.Equal(probabilities, frameProbabilities, (a, b) => Math.Abs(a - b) < 1e-5);

        // A [1, 3, 32, 32] FP32 tensor as nested arrays (flattened in row-major order).
        var nested = new JsonArray(new JsonArray([.. Enumerable.Range(0, 3).Select(c => (JsonNode)new JsonArray([.. Enumerable.Range(0, 32).Select(y => (JsonNode)new JsonArray([.. Enumerable.Range(0, 32).Select(x => (JsonNode)0.1f)]))]))]));
        var tensor = await Infer("tiny", new JsonObject { ["inputs"] = new JsonArray(Input("TENSOR", "FP32", [1, 3, 32, 32], nested)) });
        Assert.Equal(10, tensor["outputs"]![0]!["data"]!.AsArray().Count);
    }

    [Fact]
    public async Task Infer_ClassificationExtensionAndParameters()
    {
        var answer = await Infer("tiny", new JsonObject
        {
            ["parameters"] = new JsonObject { ["mode"] = "full" },
            ["inputs"] = new JsonArray(Input("IMAGE", "BYTES", [1], new JsonArray(Convert.ToBase64String(Png)))),
            ["outputs"] = new JsonArray(new JsonObject { ["name"] = "PROBABILITIES", ["parameters"] = new JsonObject { ["classification"] = 3 } }),
        });
        var output = answer["outputs"]![0]!;
        Assert.Equal("BYTES", output["datatype"]!.GetValue<string>());
        var top = output["data"]!.AsArray().Select(v => v!.GetValue<string>()).ToList();
        Assert.Equal(3, top.Count);
        Assert.All(top, t => Assert.Matches(@"^\d\.\d{6}:\d:[a-z]+$", t));
        Assert.Equal("fused", answer["parameters"]!["exit_kind"]!.GetValue<string>());
    }

    [Fact]
    public async Task Infer_TritonBinaryTensorExtension_InAndOut()
    {
        var header = new JsonObject
        {
            ["inputs"] = new JsonArray(Input("IMAGE", "BYTES", [1], null, new JsonObject { ["binary_data_size"] = Png.Length + 4 })),
            ["outputs"] = new JsonArray(new JsonObject { ["name"] = "PROBABILITIES", ["parameters"] = new JsonObject { ["binary_data"] = true } }),
        };
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var body = new byte[json.Length + 4 + Png.Length];
        json.CopyTo(body, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(json.Length), (uint)Png.Length);
        Png.CopyTo(body, json.Length + 4);
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.Add("Inference-Header-Content-Length", json.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await _http.PostAsync(new Uri(Base + "/v2/models/tiny/infer"), content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var length = int.Parse(response.Headers.GetValues("Inference-Header-Content-Length").Single(), System.Globalization.CultureInfo.InvariantCulture);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var answer = JsonNode.Parse(bytes.AsSpan(0, length))!;
        Assert.Equal(40, answer["outputs"]![0]!["parameters"]!["binary_data_size"]!.GetValue<int>());
        var probabilities = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan(length)).ToArray();
        Assert.Equal(10, probabilities.Length);
        Assert.Equal(1, probabilities.Sum(), 3);
    }

    [Theory]
    [InlineData("{not json", 400, "not JSON")]
    [InlineData("[]", 400, "must be a JSON object")]
    [InlineData("{\"inputs\": []}", 400, "\"inputs\" must be a non-empty array")]
    [InlineData("{\"inputs\": [{\"name\": \"IMAGE\", \"datatype\": \"BYTES\", \"shape\": [1], \"data\": [\"%%%\"]}]}", 400, "inputs[0].data[0] is not base64")]
    [InlineData("{\"inputs\": [{\"name\": \"FRAME\", \"datatype\": \"UINT8\", \"shape\": [2, 2, 3], \"data\": [1, 2, -3]}]}", 400, "inputs[0].data[2] must be an unsigned integer")]
    [InlineData("{\"inputs\": [{\"name\": \"TENSOR\", \"datatype\": \"FP32\", \"shape\": [1, 3, 32, 32], \"data\": [1.5]}]}", 400, "TENSOR")]
    [InlineData("{\"inputs\": [{\"name\": \"IMAGE\", \"datatype\": \"FP16\", \"shape\": [1], \"data\": [1]}]}", 400, "FP16")]
    [InlineData("{\"inputs\": [{\"name\": \"IMAGE\", \"datatype\": \"BYTES\", \"shape\": [1], \"data\": [\"aGVsbG8=\"]}]}", 400, "is not a readable")]
    public async Task Infer_Malformed_IsOneErrorObjectWithTheHttpStatus(string body, int status, string message)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(new Uri(Base + "/v2/models/tiny/infer"), content);
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Contains(message, await ErrorOf(response), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Infer_ABodyOverTwiceMaxMessageBytes_Is413_AndTheServerGoesOn()
    {
        var big = Convert.ToBase64String(new byte[3 * 1024 * 1024]);
        using var content = new StringContent($"{{\"inputs\": [{{\"name\": \"IMAGE\", \"datatype\": \"BYTES\", \"shape\": [1], \"data\": [\"{big}\"]}}]}}", Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(new Uri(Base + "/v2/models/tiny/infer"), content);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("MaxMessageBytes", await ErrorOf(response), StringComparison.Ordinal);
        Assert.True((await GetJson("/v2/health/ready"))["ready"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Repository_IndexLoadAndUnload_TakeTheVersionAsAFoldersName()
    {
        var index = await Post("/v2/repository/index", "{}", HttpStatusCode.OK);
        Assert.Contains(JsonNode.Parse(index)!.AsArray(), e => e!["name"]!.GetValue<string>() == "tiny" && e["version"]!.GetValue<string>() == "1" && e["state"]!.GetValue<string>() == "READY");

        await Post("/v2/repository/models/tiny/load", """{"parameters": {"version": 1}}""", HttpStatusCode.OK);
        await Post("/v2/repository/models/tiny/load", """{"parameters": {"version": "1"}}""", HttpStatusCode.OK);
        foreach (var bad in new[] { "0", "-1", "\"0\"", "\"+1\"", "\"one\"", "true" })
        {
            var error = await Post("/v2/repository/models/tiny/load", "{\"parameters\": {\"version\": " + bad + "}}", HttpStatusCode.BadRequest);
            Assert.Contains("parameters.version must be a positive integer", error, StringComparison.Ordinal);
        }

        Assert.Contains("has no version 9", await Post("/v2/repository/models/tiny/load", """{"parameters": {"version": 9}}""", HttpStatusCode.NotFound), StringComparison.Ordinal);
        await Post("/v2/repository/models/tiny/unload", "{}", HttpStatusCode.OK);
        using var gone = await _http.GetAsync(new Uri(Base + "/v2/models/tiny/ready"));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        await Post("/v2/repository/models/tiny/load", "{}", HttpStatusCode.OK);
    }

    [Fact]
    public async Task TheRestApi_IsOnlyOnItsOwnListener()
    {
        // The gRPC port speaks HTTP/2 only; asked there over h2c, /v2 is not found.
        var grpc = new Uri(TestServer.GrpcAddress(_server.App)).Port;
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://127.0.0.1:{grpc}/v2/health/live")) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Curl_TheSpecsExample_InfersAnImage()
    {
        var file = Path.Combine(Path.GetTempPath(), $"dfbnet-rest-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, new JsonObject
        {
            ["id"] = "curl-1",
            ["inputs"] = new JsonArray(Input("IMAGE", "BYTES", [1], new JsonArray(Convert.ToBase64String(Png)))),
            ["outputs"] = new JsonArray(new JsonObject { ["name"] = "PROBABILITIES" }),
        }.ToJsonString());
        try
        {
            var (code, stdout, stderr) = await Run("curl", "-sS", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@" + file, Base + "/v2/models/tiny/infer");
            Assert.True(code == 0, stderr);
            var answer = JsonNode.Parse(stdout)!;
            Assert.Equal("curl-1", answer["id"]!.GetValue<string>());
            Assert.Equal(10, answer["outputs"]![0]!["data"]!.AsArray().Count);

            (code, stdout, _) = await Run("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", Base + "/v2/health/ready");
            Assert.Equal((0, "200"), (code, stdout));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task PythonUrllib_MetadataAndInfer()
    {
        const string script = """
            import base64, json, sys, urllib.request, urllib.error
            base, png = sys.argv[1], open(sys.argv[2], 'rb').read()
            meta = json.load(urllib.request.urlopen(base + '/v2/models/tiny'))
            body = json.dumps({'inputs': [{'name': 'IMAGE', 'datatype': 'BYTES', 'shape': [1], 'data': [base64.b64encode(png).decode()]}],
                               'outputs': [{'name': 'PROBABILITIES', 'parameters': {'classification': 1}}]}).encode()
            req = urllib.request.Request(base + '/v2/models/tiny/infer', data=body, headers={'Content-Type': 'application/json'})
            out = json.load(urllib.request.urlopen(req))
            try:
                urllib.request.urlopen(urllib.request.Request(base + '/v2/models/tiny/infer', data=b'{', headers={'Content-Type': 'application/json'}))
                bad = 'no error'
            except urllib.error.HTTPError as e:
                bad = '%d %s' % (e.code, json.load(e)['error'][:20])
            print(json.dumps({'versions': meta['versions'], 'top': out['outputs'][0]['data'], 'bad': bad}))
            """;
        var png = Path.Combine(Path.GetTempPath(), $"dfbnet-rest-{Guid.NewGuid():N}.png");
        await File.WriteAllBytesAsync(png, Png);
        try
        {
            var (code, stdout, stderr) = await Run("python3", "-c", script, Base, png);
            Assert.True(code == 0, stderr);
            var result = JsonNode.Parse(stdout)!;
            Assert.Equal("1", result["versions"]![0]!.GetValue<string>());
            Assert.Matches(@"^\d\.\d{6}:\d:[a-z]+$", result["top"]![0]!.GetValue<string>());
            Assert.StartsWith("400 The request body is", result["bad"]!.GetValue<string>(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(png);
        }
    }

    private static JsonObject Input(string name, string datatype, long[] shape, JsonArray? data, JsonObject? parameters = null)
    {
        var input = new JsonObject { ["name"] = name, ["datatype"] = datatype, ["shape"] = new JsonArray([.. shape.Select(d => (JsonNode)d)]) };
        if (data is not null)
        {
            input["data"] = data;
        }

        if (parameters is not null)
        {
            input["parameters"] = parameters;
        }

        return input;
    }

    private async Task<JsonNode> Infer(string model, JsonObject body)
    {
        using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(new Uri($"{Base}/v2/models/{model}/infer"), content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(text)!;
    }

    private async Task<string> Post(string path, string body, HttpStatusCode expected)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(new Uri(Base + path), content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{path} {body}: {(int)response.StatusCode} {text}");
        return text;
    }

    private async Task<JsonNode> GetJson(string path)
    {
        using var response = await _http.GetAsync(new Uri(Base + path));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    private static async Task<string> ErrorOf(HttpResponseMessage response)
    {
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("error").GetString()!;
    }

    private static async Task<(int Code, string Stdout, string Stderr)> Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await stdout, await stderr);
    }
}
