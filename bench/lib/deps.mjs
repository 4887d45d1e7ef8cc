// Resolves the bench's dependencies from the server package, so the bench needs no package.json
// of its own: fastify, @fastify/websocket and ws are dependencies of @pocketping/server.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = join(BENCH_DIR, '..');
const fromServer = createRequire(join(ROOT, 'packages/server/package.json'));

/** Imports a package as the server package would resolve it. */
export async function importFromServer(name) {
  const mod = await import(pathToFileURL(fromServer.resolve(name)).href);
  return mod.default ?? mod;
}

/** The built @pocketping/server (packages/server/dist). */
export async function importServer() {
  return import(pathToFileURL(join(ROOT, 'packages/server/dist/index.js')).href);
}

/**
 * Imports a module of packages/server/src through tsx (buildServer and parseConfig are not
 * exported by the package index). Only the loading is transpiled; the request path is the same.
 */
export async function importServerSource(file) {
  const { tsImport } = await import('tsx/esm/api');
  return tsImport(pathToFileURL(join(ROOT, 'packages/server/src', file)).href, import.meta.url);
}
