/**
 * Service account tokens for projected volumes: cached, renewed after 80% of their lifetime (or
 * a day), kept on a failed renewal while still valid, and dropped with their pod.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../src/client/log.js';
import { TokenManager, type ServiceAccountTokenSource, type TokenRequestOptions } from '../../src/agent/volumes/token-manager.js';

function fixture() {
  let now = Date.UTC(2025, 0, 1);
  let n = 0;
  let fail = false;
  const calls: [string, string, TokenRequestOptions][] = [];
  const source: ServiceAccountTokenSource = {
    async request(ns, sa, opts) {
      calls.push([ns, sa, opts]);
      if (fail) throw new Error('connection refused');
      return { token: `tok-${++n}`, expirationTimestamp: new Date(now + opts.expirationSeconds * 1000).toISOString() };
    },
  };
  const tm = new TokenManager(source, () => now, silentLogger);
  return {
    tm,
    calls,
    advance: (s: number) => (now += s * 1000),
    failing: (f: boolean) => (fail = f),
  };
}

const req = (uid = 'u1', expirationSeconds = 3600): TokenRequestOptions => ({ audiences: ['api'], expirationSeconds, boundPod: { name: 'p', uid } });

describe('token manager', () => {
  it('asks the API once and serves the cached token until 80% of its lifetime', async () => {
    const f = fixture();
    assert.equal(await f.tm.get('ns', 'default', req()), 'tok-1');
    f.advance(2879);
    assert.equal(await f.tm.get('ns', 'default', req()), 'tok-1');
    assert.equal(f.calls.length, 1);
    assert.deepEqual(f.calls[0], ['ns', 'default', req()]);
    f.advance(2);
    assert.equal(await f.tm.get('ns', 'default', req()), 'tok-2');
  });

  it('renews a long-lived token after a day', async () => {
    const f = fixture();
    const year = 365 * 24 * 3600;
    assert.equal(await f.tm.get('ns', 'sa', req('u1', year)), 'tok-1');
    f.advance(24 * 3600 - 1);
    assert.equal(await f.tm.get('ns', 'sa', req('u1', year)), 'tok-1');
    f.advance(2);
    assert.equal(await f.tm.get('ns', 'sa', req('u1', year)), 'tok-2');
  });

  it('keys tokens by pod, audience and lifetime', async () => {
    const f = fixture();
    await f.tm.get('ns', 'sa', req('u1'));
    await f.tm.get('ns', 'sa', req('u2'));
    await f.tm.get('ns', 'sa', { ...req('u1'), audiences: ['vault'] });
    await f.tm.get('ns', 'sa', req('u1', 7200));
    assert.equal(f.calls.length, 4);
  });

  it('keeps the current token when renewal fails, and fails once it has expired', async () => {
    const f = fixture();
    await f.tm.get('ns', 'sa', req());
    f.failing(true);
    f.advance(3000);
    assert.equal(await f.tm.get('ns', 'sa', req()), 'tok-1');
    f.advance(601);
    await assert.rejects(f.tm.get('ns', 'sa', req()), /expired and refresh failed: connection refused/);
  });

  it('fails with the kubelet text when there is no token yet', async () => {
    const f = fixture();
    f.failing(true);
    await assert.rejects(f.tm.get('ns', 'sa', req()), { message: 'failed to fetch token: connection refused' });
  });

  it('forgets the tokens of a removed pod', async () => {
    const f = fixture();
    await f.tm.get('ns', 'sa', req('u1'));
    f.tm.forgetPod('u1');
    assert.equal(await f.tm.get('ns', 'sa', req('u1')), 'tok-2');
  });
});
