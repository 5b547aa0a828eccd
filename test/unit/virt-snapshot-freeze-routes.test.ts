/**
 * The agent's freeze and unfreeze routes as virt-handler serves them: the unfreeze timeout read
 * from the FreezeUnfreezeTimeout body (a Go duration) and handed to the VirtHandler in seconds,
 * 202 Accepted; virt-handler's refusals of a missing or unreadable timeout; the VirtHandler's
 * errors as Status objects with its code; a VirtHandler that cannot freeze answers 503.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/client/log.js';
import { VirtRoutes } from '../../src/agent/server/virt-routes.js';
import { VirtNodeError, type VirtNodeControl } from '../../src/virt/handler/virt-node-control.js';

const calls: string[] = [];
const control: VirtNodeControl = {
  sockets: () => {
    throw new VirtNodeError(404, 'none');
  },
  pause: async () => undefined,
  unpause: async () => undefined,
  freeze: async (ns, name, seconds) => {
    if (name === 'broken') throw new VirtNodeError(400, 'guest agent guest-fsfreeze-freeze: GenericError: fsfreeze is limited');
    calls.push(`freeze ${ns}/${name} ${seconds}`);
  },
  unfreeze: async (ns, name) => void calls.push(`unfreeze ${ns}/${name}`),
};
const servers: Server[] = [];
let port: number;

async function serve(c: VirtNodeControl): Promise<number> {
  const routes = new VirtRoutes(c, silentLogger);
  const s = createServer((req, res) => void routes.serve(req, res));
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

function put(path: string, body: string | undefined, p = port): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: p, path, method: 'PUT', agent: false }, (res) => {
      let text = '';
      res.on('data', (b) => (text += b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

before(async () => {
  port = await serve(control);
});
after(() => {
  for (const s of servers) s.close();
});

describe('agent freeze routes', () => {
  it('freeze hands the unfreeze timeout on in seconds; unfreeze reaches the handler; both 202', async () => {
    assert.equal((await put('/virt/freeze/ns1/vm1', '{"unfreezeTimeout":"5m0s"}')).status, 202);
    assert.equal((await put('/virt/unfreeze/ns1/vm1', undefined)).status, 202);
    assert.deepEqual(calls, ['freeze ns1/vm1 300', 'unfreeze ns1/vm1']);
  });

  it('virt-handler\'s refusals of the timeout, and the handler\'s error as a Status', async () => {
    const missing = await put('/virt/freeze/ns1/vm1', '{}');
    assert.equal(missing.status, 400);
    assert.equal((JSON.parse(missing.body) as { message: string }).message, 'Unfreeze timeout in freeze request is not set');
    const bad = await put('/virt/freeze/ns1/vm1', '{"unfreezeTimeout":"soon"}');
    assert.equal((JSON.parse(bad.body) as { message: string }).message, 'failed to unmarshal unfreeze timeout');
    const broken = await put('/virt/freeze/ns1/broken', '{"unfreezeTimeout":"1m"}');
    assert.equal(broken.status, 400);
    assert.deepEqual(JSON.parse(broken.body), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'guest agent guest-fsfreeze-freeze: GenericError: fsfreeze is limited', reason: 'BadRequest', code: 400 });
  });
});
