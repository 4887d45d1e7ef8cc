/** Widget version policy. */
export interface VersionPolicy {
  /** Older widgets are rejected with 426 and `unsupported`. */
  minWidgetVersion?: string;
  /** Newer widgets exist; older ones get an `outdated` notice on `/connect`. */
  latestWidgetVersion?: string;
  /** Text of the warning shown in the browser console. */
  versionWarningMessage?: string;
  /** Where to read about upgrading. */
  versionUpgradeUrl?: string;
}

/** Result of checking one widget version against the policy. */
export interface VersionCheckResult {
  status: 'ok' | 'outdated' | 'deprecated' | 'unsupported';
  message?: string;
  minVersion?: string;
  latestVersion?: string;
  canContinue: boolean;
}

type Parsed = readonly [number, number, number] | null;

/** Parsed versions: every versioned widget call sends one of a handful of version strings. */
const parsedVersions = new Map<string, Parsed>();

function parse(v: string): Parsed {
  let parsed = parsedVersions.get(v);
  if (parsed === undefined) {
    const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(v.trim());
    parsed = m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : null;
    if (v.length <= 64) {
      if (parsedVersions.size >= 500) parsedVersions.clear();
      parsedVersions.set(v, parsed);
    }
  }
  return parsed;
}

/** Compares two semver strings by major.minor.patch; unparseable versions compare equal. */
export function compareVersions(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  if (!pa || !pb) return 0;
  for (let i = 0; i < 3; i++) {
    const d = pa[i]! - pb[i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * Checks a widget version. A missing header counts as ok. Below `minWidgetVersion` is
 * `unsupported`; below `latestWidgetVersion` is `outdated`.
 */
export function checkWidgetVersion(version: string | undefined, policy: VersionPolicy): VersionCheckResult {
  const base = {
    ...(policy.minWidgetVersion ? { minVersion: policy.minWidgetVersion } : {}),
    ...(policy.latestWidgetVersion ? { latestVersion: policy.latestWidgetVersion } : {}),
  };
  if (!version || parse(version) === null) return { status: 'ok', canContinue: true, ...base };
  if (policy.minWidgetVersion && compareVersions(version, policy.minWidgetVersion) < 0) {
    return {
      status: 'unsupported',
      canContinue: false,
      message:
        policy.versionWarningMessage ??
        `Widget version ${version} is no longer supported; the minimum is ${policy.minWidgetVersion}.`,
      ...base,
    };
  }
  if (policy.latestWidgetVersion && compareVersions(version, policy.latestWidgetVersion) < 0) {
    return {
      status: 'outdated',
      canContinue: true,
      message:
        policy.versionWarningMessage ??
        `Widget version ${version} is outdated; the latest is ${policy.latestWidgetVersion}.`,
      ...base,
    };
  }
  return { status: 'ok', canContinue: true, ...base };
}

/** The `X-PocketPing-*` response headers for a check result. */
export function versionHeaders(result: VersionCheckResult): Record<string, string> {
  const h: Record<string, string> = { 'X-PocketPing-Version-Status': result.status };
  if (result.minVersion) h['X-PocketPing-Min-Version'] = result.minVersion;
  if (result.latestVersion) h['X-PocketPing-Latest-Version'] = result.latestVersion;
  if (result.message && result.status !== 'ok') h['X-PocketPing-Version-Message'] = result.message;
  return h;
}
