// Validates Kubernetes objects (multi-document YAML files, e.g. rendered by `kubectl kustomize`) against their schemas,
// offline, with the kubernetes-models packages: the core API, KEDA, the Gateway API and the Prometheus Operator. Kinds
// without a schema here (KServe's) are listed as such. Exit code 1 when an object is invalid.
//   node deploy/check/validate.mjs FILE.yaml...
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

const packages = {
  'keda.sh': '@kubernetes-models/keda',
  'gateway.networking.k8s.io': '@kubernetes-models/gateway-api',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const path = packages[group] ? `${packages[group]}/${group}/${version}/${kind}` : `kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`;
  try {
    const module = await import(path);
    return module[kind] ?? module.default;
  } catch {
    return undefined;
  }
}

let invalid = 0;
for (const file of process.argv.slice(2)) {
  for (const document of parseAllDocuments(readFileSync(file, 'utf8'))) {
    if (document.errors.length > 0) {
      console.log(`${file}: YAML error: ${document.errors[0].message}`);
      invalid++;
      continue;
    }
    const object = document.toJS();
    if (!object) {
      continue;
    }
    const name = `${object.kind} ${object.metadata?.name ?? '?'}`;
    const Model = await modelFor(object.apiVersion ?? '', object.kind ?? '');
    if (!Model) {
      console.log(`${file}: ${name} (${object.apiVersion}): no schema here, not validated`);
      continue;
    }
    try {
      new Model(object).validate();
      console.log(`${file}: ${name}: valid`);
    } catch (error) {
      invalid++;
      console.log(`${file}: ${name}: INVALID: ${error.message}`);
    }
  }
}
process.exit(invalid > 0 ? 1 : 0);
