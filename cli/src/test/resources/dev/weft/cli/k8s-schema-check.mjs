// Checks Kubernetes manifests against the API's own schemas, offline: the types, required fields,
// enums and formats of the OpenAPI schemas that the npm package kubernetes-models compiles, plus
// the check the API server makes with strict field validation (kubectl's default): no field the
// schema does not know. Run by DeployManifestsTest from a directory where kubernetes-models and
// yaml are installed:
//   node k8s-schema-check.mjs FILE.yaml...
// Prints one line per problem and exits 1, or prints what it checked and exits 0.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import YAML from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.join(here, "node_modules");
const problems = [];
let checked = 0;

// The properties of the interface a .d.ts declares, and where its property types come from.
const declarations = new Map();
function declaration(dts) {
  if (!declarations.has(dts)) {
    const text = fs.readFileSync(dts, "utf8");
    const imports = new Map();
    for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) {
      const target = m[2].startsWith(".")
        ? path.resolve(path.dirname(dts), m[2])
        : path.join(modules, m[2]);
      imports.set(m[1], target.replace(/\.js$/, "") + ".d.ts");
    }
    const body = text.match(/^export interface \w+[^{]*\{\n([\s\S]*?)^\}/m);
    const properties = new Map();
    if (body) {
      for (const m of body[1].matchAll(/^ {4}"([^"]+)"\??: (.+?);?$/gm)) {
        properties.set(m[1], m[2]);
      }
    }
    declarations.set(dts, body ? { imports, properties } : null);
  }
  return declarations.get(dts);
}

function unknownFields(value, dts, at, where) {
  const d = declaration(dts);
  if (d === null || value === null || typeof value !== "object" || Array.isArray(value)) {
    return; // a scalar alias (Quantity, IntOrString) or a free-form object
  }
  for (const [key, child] of Object.entries(value)) {
    const type = d.properties.get(key);
    if (type === undefined) {
      problems.push(`${where}: ${at}/${key}: unknown field (the schema has ${[...d.properties.keys()].join(", ")})`);
      continue;
    }
    const list = type.match(/^Array<(\w+)>$/);
    const name = list ? list[1] : type;
    const target = d.imports.get(name);
    if (target === undefined) {
      continue; // string, number, a union of literals, a map
    }
    if (list && Array.isArray(child)) {
      child.forEach((item, i) => unknownFields(item, target, `${at}/${key}/${i}`, where));
    } else if (!list) {
      unknownFields(child, target, `${at}/${key}`, where);
    }
  }
}

for (const file of process.argv.slice(2)) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      problems.push(`${file}: ${doc.errors[0].message}`);
      continue;
    }
    const object = doc.toJS();
    if (object === null || object === undefined) {
      continue;
    }
    const where = `${path.basename(file)}: ${object.kind}/${object.metadata?.name}`;
    const model = path.join(modules, "kubernetes-models", object.apiVersion ?? "?", `${object.kind}`);
    if (!fs.existsSync(`${model}.js`)) {
      problems.push(`${where}: no schema for apiVersion ${object.apiVersion}, kind ${object.kind}`);
      continue;
    }
    const Model = (await import(pathToFileURL(`${model}.js`)))[object.kind];
    try {
      new Model(object).validate();
    } catch (e) {
      problems.push(`${where}: ${e.message}`);
    }
    unknownFields(object, `${model}.d.ts`, "", where);
    checked++;
  }
}

for (const p of problems) {
  console.log(p);
}
if (problems.length > 0) {
  process.exit(1);
}
console.log(`checked ${checked} documents against the Kubernetes schemas`);
