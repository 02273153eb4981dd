import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type GrpcObject, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

const require = createRequire(import.meta.url);
const codegenPath = join(dirname(fileURLToPath(import.meta.url)), '../../../proto/codegen.json');

interface Codegen {
  includeDirs: string[];
  files: string[];
  loaderOptions: { longs: 'String' | 'Number'; enums: 'String' | 'Number'; defaults: boolean; oneofs: boolean };
}

// proto-loader wants the constructors (String, Number), the JSON file can only name them.
const CONSTRUCTORS = { String, Number } as const;

function loaderOptions(o: Codegen['loaderOptions']): Options {
  return { longs: CONSTRUCTORS[o.longs], enums: o.enums === 'String' ? String : undefined, defaults: o.defaults, oneofs: o.oneofs };
}

/**
 * Loads the Envoy service definitions at runtime from the pinned @grpc/grpc-js-xds package, with the same
 * options the TypeScript types in src/gen were generated with (proto/codegen.json), so both agree.
 */
export function loadEnvoyProtos(files?: readonly string[]): GrpcObject {
  const codegen = JSON.parse(readFileSync(codegenPath, 'utf8')) as Codegen;
  const deps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  const definition = loadSync([...(files ?? codegen.files)], {
    ...loaderOptions(codegen.loaderOptions),
    includeDirs: codegen.includeDirs.map((d) => join(deps, d)),
  });
  return loadPackageDefinition(definition);
}

/** Walks "envoy.service.auth.v3.Authorization" through a loaded package object. */
export function serviceDefinition(root: GrpcObject, fullName: string): ServiceDefinition {
  let node: unknown = root;
  for (const part of fullName.split('.')) node = (node as Record<string, unknown>)[part];
  const service = (node as { service?: ServiceDefinition } | undefined)?.service;
  if (!service) throw new Error(`service ${fullName} not found in loaded protos`);
  return service;
}
