#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isPocketPingError, isSetupError } from '@pocketping/core';
import { Command } from 'commander';
import { buildServer } from './build-server.js';
import { CONFIG_TEMPLATE, ConfigError, loadConfigFile, parseConfig, type ServerConfig } from './config.js';
import { loadBridges, loadStorage } from './load-adapters.js';

const VERSION = '0.1.0';

function fail(err: unknown): never {
  if (isSetupError(err)) console.error(`\n${err.formattedGuide()}\n`);
  else if (err instanceof ConfigError) console.error(`\n${err.message}\n`);
  else if (isPocketPingError(err)) console.error(`\n${err.code}: ${err.message}\n`);
  else console.error(err);
  process.exit(1);
}

/** Reads the config from --config, POCKETPING_CONFIG, or the embedded default, then applies env overrides. */
async function resolveConfig(file: string | undefined): Promise<{ config: ServerConfig; source: string }> {
  const path = file ?? process.env.POCKETPING_CONFIG;
  let config = path ? await loadConfigFile(resolve(path)) : parseConfig({});
  const overrides: Record<string, unknown> = {};
  if (process.env.HOST) overrides.host = process.env.HOST;
  if (process.env.PORT) overrides.port = process.env.PORT;
  if (process.env.POCKETPING_API_KEY) overrides.apiKey = process.env.POCKETPING_API_KEY;
  if (Object.keys(overrides).length > 0) {
    config = parseConfig({ ...config, server: { ...config.server, ...overrides } }, {}, path ?? 'environment');
  }
  return { config, source: path ? resolve(path) : 'embedded default (memory storage, no bridges, demo page)' };
}

async function start(options: { config?: string }): Promise<void> {
  const { config, source } = await resolveConfig(options.config);
  const built = await buildServer(config);
  const { app, apiKey, apiKeyGenerated } = built;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      app.log.warn('second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    app.log.info({ signal }, 'shutting down: closing sockets and flushing deliveries');
    try {
      await app.close();
      process.exit(0);
    } catch (err) {
      app.log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  const address = await app.listen({ host: config.server.host, port: config.server.port });
  const local = address.replace('0.0.0.0', 'localhost').replace('[::]', 'localhost');
  const prefix = config.server.prefix === '/' ? '' : config.server.prefix;
  const lines = [
    `PocketPing server ${VERSION} listening on ${address}`,
    `  config:   ${source}`,
    `  storage:  ${String(config.storage.type)}; bridges: ${config.bridges.map((b) => b.type).join(', ') || 'none'}`,
    `  widget:   data-endpoint="${config.server.publicUrl ?? local}${prefix}"`,
  ];
  if (config.server.demo) {
    lines.push(`  demo:     ${local}/`);
    lines.push(`  inbox:    ${local}/inbox${apiKeyGenerated ? `#key=${apiKey}` : ''}`);
  }
  if (apiKeyGenerated) {
    lines.push(`  admin key (generated for this run; set POCKETPING_API_KEY to keep one): ${apiKey}`);
  }
  console.log(lines.join('\n'));
}

async function check(options: { config?: string }): Promise<void> {
  const { config, source } = await resolveConfig(options.config);
  console.log(`Checking ${source}`);
  let problems = 0;
  const env = {
    prefix: config.server.prefix,
    logger: silent(),
    ...(config.server.publicUrl
      ? { publicUrl: `${config.server.publicUrl.replace(/\/+$/, '')}${config.server.prefix}` }
      : {}),
  };
  try {
    const { storage } = await loadStorage(config.storage as { type: string } & Record<string, unknown>, env);
    await storage.init?.();
    const ok = storage.ping ? await storage.ping() : true;
    await storage.close?.();
    console.log(`  ✓ storage ${String(config.storage.type)}${ok ? '' : ' (ping failed)'}`);
    if (!ok) problems++;
  } catch (err) {
    problems++;
    console.log(`  ✗ storage ${String(config.storage.type)}`);
    printProblem(err);
  }
  let bridges: Awaited<ReturnType<typeof loadBridges>> = [];
  try {
    bridges = await loadBridges(config.bridges as ({ type: string } & Record<string, unknown>)[], env);
  } catch (err) {
    problems++;
    printProblem(err);
  }
  for (const bridge of bridges) {
    try {
      if (bridge.check) await bridge.check();
      console.log(`  ✓ bridge ${bridge.name}${bridge.check ? '' : ' (no credential check available)'}`);
    } catch (err) {
      problems++;
      console.log(`  ✗ bridge ${bridge.name}`);
      printProblem(err);
    }
  }
  if (problems > 0) {
    console.log(`\n${problems} problem${problems > 1 ? 's' : ''} found.`);
    process.exit(1);
  }
  console.log('\nEverything looks good.');
}

async function migrate(options: { config?: string }): Promise<void> {
  const { config } = await resolveConfig(options.config);
  const env = { prefix: config.server.prefix, logger: silent() };
  const { storage } = await loadStorage(config.storage as { type: string } & Record<string, unknown>, env);
  const withMigrate = storage as { migrate?: () => Promise<unknown> };
  if (typeof withMigrate.migrate === 'function') {
    await withMigrate.migrate();
    console.log(`Migrations of ${String(config.storage.type)} storage are up to date.`);
  } else {
    await storage.init?.();
    console.log(`The ${String(config.storage.type)} storage has no migrations; its init() ran.`);
  }
  await storage.close?.();
}

function printProblem(err: unknown): void {
  if (isSetupError(err)) console.log(err.formattedGuide().replace(/^/gm, '    '));
  else if (err instanceof ConfigError) console.log(err.message.replace(/^/gm, '    '));
  else console.log(`    ${(err as Error)?.message ?? String(err)}`);
}

function silent() {
  const noop = () => {};
  return { debug: noop, info: noop, warn: noop, error: noop };
}

const program = new Command();
program.name('pocketping-server').description('PocketPing live-chat server').version(VERSION);
program
  .command('start', { isDefault: true })
  .description('start the server (the default command)')
  .option('-c, --config <file>', 'config.yaml to use (or env POCKETPING_CONFIG)')
  .action((opts) => start(opts).catch(fail));
program
  .command('init')
  .description('write a commented config.yaml')
  .option('-o, --output <file>', 'where to write it', 'config.yaml')
  .option('-f, --force', 'overwrite an existing file')
  .action(async (opts: { output: string; force?: boolean }) => {
    const target = resolve(opts.output);
    if (existsSync(target) && !opts.force) fail(new ConfigError([`${target} exists; pass --force to overwrite it`]));
    await writeFile(target, CONFIG_TEMPLATE);
    console.log(`Wrote ${target}. Edit it, then run: pocketping-server --config ${opts.output}`);
  });
program
  .command('check')
  .description("validate the config and each bridge's credentials")
  .option('-c, --config <file>', 'config.yaml to check (or env POCKETPING_CONFIG)')
  .action((opts) => check(opts).catch(fail));
program
  .command('migrate')
  .description('apply storage migrations (PostgreSQL) and exit')
  .option('-c, --config <file>', 'config.yaml to use (or env POCKETPING_CONFIG)')
  .action((opts) => migrate(opts).catch(fail));

// `pnpm start -- --config x` passes a literal `--` through; drop it.
const argv = process.argv.filter((arg, i) => !(arg === '--' && i >= 2));
program.parseAsync(argv).catch(fail);
