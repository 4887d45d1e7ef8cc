/** Environment variables set by serverless platforms, where no WebSocket can stay open. */
const SERVERLESS_MARKERS: readonly [string, string][] = [
  ['VERCEL', 'Vercel'],
  ['AWS_LAMBDA_FUNCTION_NAME', 'AWS Lambda'],
  ['NETLIFY', 'Netlify'],
  ['FUNCTIONS_WORKER_RUNTIME', 'Azure Functions'],
];

/** The serverless platform this process runs on, or undefined for a long-running process. */
export function detectServerless(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const [name, platform] of SERVERLESS_MARKERS) if (env[name]) return platform;
  return undefined;
}
