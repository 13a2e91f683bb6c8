#!/usr/bin/env bash
# Packs every NuGet package (DfbNet.Protocol, DfbNet.Client, the DfbNet.Cli tool) and the npm package (@dfbnet/client) into a local feed,
# then builds each sample in samples/ outside the repository against that feed alone for DfbNet (no project references)
# and runs it against the built server with the bundled model. Also checks the packages hold their README, license and
# symbols. Needs the solution built (dotnet build DfbNet.sln -c Release). Usage: scripts/pack-consume.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=${1:-$(mktemp -d)}
feed="$work/feed"
mkdir -p "$feed"
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

echo "== pack $version"
for project in src/DfbNet.Protocol clients/csharp/DfbNet.Client src/DfbNet.Cli.Tool; do
  dotnet pack "$project" -c Release -o "$feed" -v quiet -nologo >/dev/null
done
for package in DfbNet.Protocol DfbNet.Client; do
  nupkg="$feed/$package.$version.nupkg"
  if [ ! -f "$nupkg" ] || [ ! -f "$feed/$package.$version.snupkg" ]; then
    echo "pack-consume: $package $version was not packed with its symbols" >&2
    exit 1
  fi
  # Listings read whole first: with pipefail, grep -q closing the pipe early would fail the listing.
  listing=$(unzip -l "$nupkg")
  nuspec=$(unzip -p "$nupkg" "$package.nuspec")
  grep -q ' README.md$' <<<"$listing" || { echo "pack-consume: $nupkg has no README.md" >&2; exit 1; }
  grep -q '<license type="expression">MIT</license>' <<<"$nuspec" || { echo "pack-consume: $nupkg has no license expression" >&2; exit 1; }
done
(cd clients/typescript && npm pack --silent --pack-destination "$feed" >/dev/null)
tarball="$feed/dfbnet-client-$version.tgz"
[ -f "$tarball" ] || { echo "pack-consume: the npm package is not $version (clients/typescript/package.json)" >&2; exit 1; }
contents=$(tar -tzf "$tarball")
for file in package/README.md package/dist/index.js package/dist/index.d.ts; do
  grep -qx "$file" <<<"$contents" || { echo "pack-consume: $tarball lacks $file" >&2; exit 1; }
done
ls "$feed"

echo "== server"
port=$(( 52000 + RANDOM % 1000 ))
dotnet src/DfbNet.Server/bin/Release/net10.0/linux-x64/dfbnet-server.dll --urls "http://127.0.0.1:$port" \
  --DfbNet:ModelRoot="$repo/models" --DfbNet:ExecutionProviders=cpu --Logging:LogLevel:Default=Warning >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  dotnet src/DfbNet.Cli/bin/Release/net10.0/linux-x64/dfbnet.dll models list --server "http://127.0.0.1:$port" >/dev/null 2>&1 && break
  sleep 0.5
done

for sample in samples/*/; do
  name=$(basename "$sample")
  echo "== sample $name"
  app="$work/$name"
  rm -rf "$app" && cp -r "$sample" "$app"
  # The user's own nuget.config: the local feed for DfbNet, the public registry for the rest.
  cat > "$app/nuget.config" <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local-feed" value="$feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
</configuration>
CONFIG
  # An empty Directory.Build.props and Directory.Packages.props stop MSBuild finding any above the copy.
  echo '<Project />' > "$app/Directory.Build.props"
  echo '<Project />' > "$app/Directory.Packages.props"
  dotnet build "$app" -c Release -p:DfbNetVersion="$version" -v quiet -nologo >"$work/$name.build.log" 2>&1 || { cat "$work/$name.build.log"; exit 1; }
  grep -q "DfbNet.Client.$version" "$app/obj/project.assets.json" || { echo "pack-consume: $name did not restore DfbNet.Client $version" >&2; exit 1; }
  project=$(find "$app" -maxdepth 1 -name '*.csproj' -printf '%f\n' | sed 's/\.csproj$//')
  dotnet "$app/bin/Release/net10.0/$project.dll" "http://127.0.0.1:$port" 10 | tail -2
done
echo "== dotnet tool DfbNet.Cli"
size=$(stat -c %s "$feed/DfbNet.Cli.$version.nupkg")
[ "$size" -lt $((60 * 1024 * 1024)) ] || { echo "pack-consume: the DfbNet.Cli tool package is $size bytes; the client commands should stay in tens of MB" >&2; exit 1; }
rm -rf "$work/tools"
dotnet tool install --tool-path "$work/tools" --add-source "$feed" DfbNet.Cli --version "$version" >/dev/null
"$work/tools/dfbnet" models list --server "http://127.0.0.1:$port"
"$work/tools/dfbnet" load --server "http://127.0.0.1:$port" --rate 20 --duration 1 --warmup 0 --data tests/data/cifar10-test-200.bin | grep '^check:'
echo "DfbNet.Cli: $((size / 1024 / 1024)) MiB, without the training commands"
echo "pack-consume: packages packed and consumed"
