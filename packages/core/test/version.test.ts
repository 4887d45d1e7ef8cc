import { checkWidgetVersion, compareVersions, versionHeaders } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { harness, newSession, tab } from './helpers.js';

const policy = { minWidgetVersion: '2.0.0', latestWidgetVersion: '2.6.0' };

describe('widget version check', () => {
  it('a missing header counts as ok', () => {
    expect(checkWidgetVersion(undefined, policy)).toMatchObject({ status: 'ok', canContinue: true });
    expect(checkWidgetVersion('', policy)).toMatchObject({ status: 'ok', canContinue: true });
  });

  it('an unparseable version counts as ok', () => {
    expect(checkWidgetVersion('dev-build', policy)).toMatchObject({ status: 'ok', canContinue: true });
  });

  it('below the minimum is unsupported and cannot continue', () => {
    expect(checkWidgetVersion('1.9.9', policy)).toMatchObject({
      status: 'unsupported',
      canContinue: false,
      minVersion: '2.0.0',
      message: expect.stringContaining('1.9.9'),
    });
  });

  it('below the latest is outdated and can continue', () => {
    expect(checkWidgetVersion('2.5.1', policy)).toMatchObject({
      status: 'outdated',
      canContinue: true,
      latestVersion: '2.6.0',
    });
  });

  it('the latest version and newer are ok', () => {
    expect(checkWidgetVersion('2.6.0', policy).status).toBe('ok');
    expect(checkWidgetVersion('3.0.0', policy).status).toBe('ok');
  });

  it('without a policy every version is ok', () => {
    expect(checkWidgetVersion('0.0.1', {})).toEqual({ status: 'ok', canContinue: true });
  });

  it('compares versions numerically, not as strings', () => {
    expect(compareVersions('2.10.0', '2.9.0')).toBe(1);
    expect(compareVersions('v2.6', '2.6.0')).toBe(0);
    expect(compareVersions('1.2.3', '1.2.4')).toBe(-1);
  });
});

describe('versionHeaders', () => {
  it('unsupported carries status, min, latest and the message', () => {
    expect(versionHeaders(checkWidgetVersion('1.0.0', policy))).toEqual({
      'X-PocketPing-Version-Status': 'unsupported',
      'X-PocketPing-Min-Version': '2.0.0',
      'X-PocketPing-Latest-Version': '2.6.0',
      'X-PocketPing-Version-Message': expect.stringContaining('1.0.0'),
    });
  });

  it('ok carries no warning message', () => {
    const h = versionHeaders(checkWidgetVersion('2.6.0', policy));
    expect(h['X-PocketPing-Version-Status']).toBe('ok');
    expect(h).not.toHaveProperty('X-PocketPing-Version-Message');
  });

  it('uses the configured warning text', () => {
    const h = versionHeaders(checkWidgetVersion('2.1.0', { ...policy, versionWarningMessage: 'Please update' }));
    expect(h['X-PocketPing-Version-Message']).toBe('Please update');
  });
});

describe('sendVersionWarning', () => {
  it('pushes a version_warning with canContinue true for an outdated widget', async () => {
    const { pp } = await harness({ ...policy, versionUpgradeUrl: 'https://docs.example.com/upgrade' });
    const sessionId = await newSession(pp);
    const t = tab(pp, sessionId);
    pp.sendVersionWarning(sessionId, pp.checkWidgetVersion('2.5.0'), '2.5.0');
    expect(t.frames).toEqual([
      {
        type: 'version_warning',
        data: {
          severity: 'info',
          message: expect.any(String),
          currentVersion: '2.5.0',
          canContinue: true,
          minVersion: '2.0.0',
          latestVersion: '2.6.0',
          upgradeUrl: 'https://docs.example.com/upgrade',
        },
      },
    ]);
  });

  it('pushes canContinue false with severity error for an unsupported widget', async () => {
    const { pp } = await harness(policy);
    const sessionId = await newSession(pp);
    const t = tab(pp, sessionId);
    pp.sendVersionWarning(sessionId, pp.checkWidgetVersion('1.0.0'));
    expect(t.frames[0]!.data).toMatchObject({ severity: 'error', canContinue: false, currentVersion: 'unknown' });
  });

  it('sends nothing for an ok version', async () => {
    const { pp } = await harness(policy);
    const sessionId = await newSession(pp);
    const t = tab(pp, sessionId);
    pp.sendVersionWarning(sessionId, pp.checkWidgetVersion('2.6.0'));
    expect(t.frames).toEqual([]);
  });
});
