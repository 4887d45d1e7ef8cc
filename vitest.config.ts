import { readdirSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

// Tests run against the TypeScript sources of the workspace packages, so no build is needed
// between an edit and a test run. The build is checked separately by `pnpm build`.
const packagesDir = resolve(__dirname, 'packages');
const packages = readdirSync(packagesDir).filter((name) => existsSync(resolve(packagesDir, name, 'package.json')));
const alias = Object.fromEntries(
  packages.map((name) => [`@pocketping/${name}`, resolve(packagesDir, name, 'src/index.ts')]),
);

export default defineConfig({
  resolve: { alias },
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    projects: [
      ...packages.map((name) => ({
        extends: true as const,
        test: { name, include: [`packages/${name}/test/**/*.test.ts`] },
      })),
      { extends: true as const, test: { name: 'examples', include: ['examples/*/test/**/*.test.ts'] } },
    ],
  },
});
