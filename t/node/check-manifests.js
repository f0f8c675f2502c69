// t/manifests.t's helper: parses the examples and prints them as JSON, one
// object per line, each Kubernetes object validated against the schema of
// kubernetes-models (generated from the Kubernetes OpenAPI spec).
//   node check-manifests.js k8s FILE.yaml   -> {"kind":..,"errors":..,"object":..}
//   node check-manifests.js hcl FILE.hcl    -> {"hcl":PARSED} or {"error":..}
'use strict';
const fs = require('fs');
const [mode, file] = process.argv.slice(2);
const text = fs.readFileSync(file, 'utf8');

if (mode === 'hcl') {
	const [parsed, err] = require('hcl2-parser').parseToObject(text);
	console.log(JSON.stringify(parsed ? { hcl: parsed } : { error: JSON.stringify(err) }));
	process.exit(0);
}

const yaml = require('js-yaml');
for (const obj of yaml.loadAll(text)) {
	if (obj == null)
		continue;
	// kubernetes-models/apps/v1/Deployment, kubernetes-models/v1/Service
	let cls, errors = null;
	try {
		cls = require(`kubernetes-models/${obj.apiVersion}/${obj.kind}`)[obj.kind];
	} catch (e) {
		errors = `no schema for ${obj.apiVersion} ${obj.kind}`;
	}
	if (cls) {
		try {
			new cls(obj).validate();
		} catch (e) {
			errors = e.message;
		}
	}
	console.log(JSON.stringify({ kind: obj.kind, errors, object: obj }));
}
