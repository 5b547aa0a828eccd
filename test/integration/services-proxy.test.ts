/**
 * Services through the node agents' proxy (kube-proxy's nftables mode), end to end on one
 * `cairn up` cluster of two nodes with the real kubectl and busybox pods: ClusterIP to pods on
 * both nodes and an endpoint change, Service environment variables, NodePort from the host to
 * every node's address, a LoadBalancer IP from the host (and its loadBalancerSourceRanges), externalTrafficPolicy Local (client IP
 * kept, dropped on a node without endpoints) against Cluster, internalTrafficPolicy Local,
 * sessionAffinity ClientIP, multi-port with named target ports, hairpin, a selector-less Service
 * with manual Endpoints, reject without endpoints, UDP with the conntrack flush on an endpoint
 * change, the `kubernetes` Service from a pod, and Services the proxy cannot program. Every test
 * has its own namespace; the cluster goes in `after`, also after a failure. Fails (never skips)
 * when kubectl or the network tools are missing.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Container, Pod, PodSpec } from '../../src/agent/pods/api-types.js';
import { Ip } from '../../src/net/ip.js';
import { Nft } from '../../src/net/nft.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { until } from '../support/until.js';

const TEST_TIMEOUT = 300_000;
const WAIT = 90_000;
let cluster: CairnCluster;

// ---- helpers: what a user does with kubectl ----

async function namespace(short: string): Promise<string> {
  const ns = `svc-${cluster.name}-${short}`;
  await cluster.ok(['create', 'namespace', ns]);
  return ns;
}

async function apply(ns: string, ...items: object[]): Promise<void> {
  await cluster.ok(['apply', '-n', ns, '-f', '-'], { input: items.map((o) => JSON.stringify(o)).join('\n') });
}

const nodeName = (n: 1 | 2) => `node-${n}`;
const nodeIP = (n: 1 | 2) => `${cluster.underlayPrefix}.${10 + n}`;
const hostIP = () => `${cluster.underlayPrefix}.1`;
/** The addresses on a node's underlay device. */
const nodeAddrs = (n: 1 | 2) => Ip.ns(`cairn-${cluster.name}-node-${n}`).ipv4Addrs('eth0');

function pod(name: string, node: 1 | 2, labels: Record<string, string>, spec: Partial<PodSpec> & { containers: Container[] }): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels }, spec: { nodeName: nodeName(node), terminationGracePeriodSeconds: 1, ...spec } };
}

/**
 * busybox httpd on `port` serving its pod name at / and the client address it sees at
 * /cgi-bin/ip (busybox sets REMOTE_ADDR for CGI), ready once it answers.
 */
function web(name: string, node: 1 | 2, labels: Record<string, string>, port = 8080, portName = 'http'): Pod {
  const script = [
    `mkdir -p /www/cgi-bin`,
    `echo "${name}" > /www/index.html`,
    // CGI headers end in CRLF: Node's HTTP parser (the test's client) insists.
    `printf '%s\\n' '#!/bin/sh' 'printf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"' > /www/cgi-bin/ip`,
    `chmod +x /www/cgi-bin/ip`,
    `exec httpd -f -p ${port} -h /www`,
  ].join(' && ');
  return pod(name, node, labels, {
    containers: [
      {
        name: 'web',
        image: cluster.busybox,
        command: ['sh', '-c', script],
        ports: [{ name: portName, containerPort: port }],
        readinessProbe: { httpGet: { path: '/', port }, periodSeconds: 1 },
      },
    ],
  });
}

/** A pod that only sleeps: the client the tests exec into. */
function client(name: string, node: 1 | 2, extra: Partial<Pod['spec']> = {}): Pod {
  return pod(name, node, { role: 'client' }, { containers: [{ name: 'c', image: cluster.busybox, command: ['sleep', '3600'] }], ...extra });
}

function service(name: string, spec: Record<string, unknown>): object {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec };
}

async function ready(ns: string, ...pods: string[]): Promise<void> {
  await cluster.ok(['wait', '-n', ns, '--for=condition=Ready', '--timeout=120s', ...pods.map((p) => `pod/${p}`)], { timeoutMs: 150_000 });
}

interface ServiceView {
  spec: { clusterIP: string; ports: { port: number; nodePort?: number }[] };
  status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
}
const getService = (ns: string, name: string) => cluster.json<ServiceView>(['get', 'service', name, '-n', ns]);

async function podIP(ns: string, name: string): Promise<string> {
  return (await cluster.json<Pod>(['get', 'pod', name, '-n', ns])).status!.podIP!;
}

/** Runs a shell script in a pod; never throws on a non-zero exit. */
function sh(ns: string, podName: string, script: string, timeoutMs = 30_000) {
  return cluster.kubectl(['exec', '-n', ns, podName, '--', 'sh', '-c', script], { timeoutMs });
}

/** busybox wget from inside a pod (its -T segfaults: `timeout` bounds it instead). */
async function fetchIn(ns: string, podName: string, url: string, seconds = 5): Promise<string> {
  const r = await sh(ns, podName, `timeout ${seconds} wget -q -O- ${url}`);
  if (r.code !== 0) throw new Error(`wget ${url} from ${podName} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** Polls until `check` passes; `check` throws (with what it saw) while it does not. */
function waitFor<T>(what: string, check: () => Promise<T>, ms = WAIT): Promise<T> {
  return until(what, async () => ({ value: await check() }), ms, 500).then((r) => r.value);
}

/** busybox httpd listens on IPv6 and shows an IPv4 client as [::ffff:a.b.c.d]. */
const clientAddr = (remoteAddr: string) => remoteAddr.replace(/^\[::ffff:(.*)\]$/, '$1');

/** A GET from the host (the test process, root namespace). */
function hostGet(url: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`GET ${url}: HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`GET ${url}: timed out`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}

/** Fetches `url` from the pod `times` times; the distinct answers. */
async function answers(ns: string, podName: string, url: string, times: number): Promise<Set<string>> {
  const r = await sh(ns, podName, `for i in $(seq ${times}); do timeout 5 wget -q -O- ${url}; done`, 120_000);
  assert.equal(r.code, 0, `wget loop in ${podName}: ${r.stderr}`);
  return new Set(r.stdout.split('\n').filter(Boolean));
}

interface KubeEvent {
  type: string;
  reason: string;
  message: string;
}
async function events(ns: string, name: string): Promise<KubeEvent[]> {
  return (await cluster.json<{ items: KubeEvent[] }>(['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${name}`])).items;
}

/**
 * Node.js in a busybox pod, from the node's own /usr (a hostPath), for what busybox cannot do:
 * its nc has no UDP, and its TLS has no cipher for the API server's ECDSA certificate.
 */
const NODE_JS = ['/host/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', '--library-path', '/host/usr/lib/x86_64-linux-gnu', '/host/usr/bin/node'];
function nodeJs(name: string, node: 1 | 2, labels: Record<string, string>, script?: string): Pod {
  return pod(name, node, labels, {
    volumes: [{ name: 'usr', hostPath: { path: '/usr', type: 'Directory' } }],
    containers: [
      {
        name: 'node',
        image: cluster.busybox,
        command: script ? [...NODE_JS, '-e', script] : ['sleep', '3600'],
        volumeMounts: [{ name: 'usr', mountPath: '/host/usr', readOnly: true }],
      },
    ],
  });
}

// ---- the tests ----

before(async () => {
  cluster = await upCluster({ nodes: 2, label: 'services' });
}, { timeout: 300_000 });
after(async () => {
  await cluster?.down();
}, { timeout: 180_000 });

describe('Services through the node proxy', { concurrency: 3 }, () => {

  it('ClusterIP reaches pods on both nodes, follows an endpoint change, and shows in env vars', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('cip');
    await apply(ns, web('web-a', 1, { app: 'web' }), web('web-b', 2, { app: 'web' }), service('web', { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] }));
    await ready(ns, 'web-a', 'web-b');
    const { spec } = await getService(ns, 'web');
    // A client made after the Service sees it in its environment (enableServiceLinks).
    await apply(ns, client('client', 1));
    await ready(ns, 'client');
    const url = `http://${spec.clusterIP}/`;
    await waitFor('both endpoints to answer through the cluster IP', async () => {
      const seen = await answers(ns, 'client', url, 20);
      assert.deepEqual([...seen].sort(), ['web-a', 'web-b']);
    });

    const env = Object.fromEntries(
      (await cluster.ok(['exec', '-n', ns, 'client', '--', 'env']))
        .split('\n')
        .filter((l) => l.startsWith('WEB_'))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    assert.deepEqual(env, {
      WEB_SERVICE_HOST: spec.clusterIP,
      WEB_SERVICE_PORT: '80',
      WEB_SERVICE_PORT_HTTP: '80',
      WEB_PORT: `tcp://${spec.clusterIP}:80`,
      WEB_PORT_80_TCP: `tcp://${spec.clusterIP}:80`,
      WEB_PORT_80_TCP_PROTO: 'tcp',
      WEB_PORT_80_TCP_PORT: '80',
      WEB_PORT_80_TCP_ADDR: spec.clusterIP,
    });
    assert.equal(await fetchIn(ns, 'client', `http://$WEB_SERVICE_HOST:$WEB_SERVICE_PORT/`).then((b) => ['web-a', 'web-b'].includes(b)), true);

    // web-b goes, web-c comes: the proxy follows the EndpointSlice.
    await cluster.ok(['delete', 'pod', '-n', ns, 'web-b', '--wait=true']);
    await apply(ns, web('web-c', 2, { app: 'web' }));
    await ready(ns, 'web-c');
    await waitFor('the cluster IP to reach web-a and web-c only', async () => {
      const seen = await answers(ns, 'client', url, 20);
      assert.deepEqual([...seen].sort(), ['web-a', 'web-c']);
    });
  });

  it('NodePort answers on every node address, the LoadBalancer IP from the host', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('lb');
    await apply(ns, web('web-a', 1, { app: 'web' }), web('web-b', 2, { app: 'web' }), service('web', { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }));
    await ready(ns, 'web-a', 'web-b');
    const svc = await waitFor('a load balancer IP', async () => {
      const s = await getService(ns, 'web');
      assert.ok(s.status?.loadBalancer?.ingress?.[0]?.ip, 'no ingress IP yet');
      return s;
    });
    const nodePort = svc.spec.ports[0]!.nodePort!;
    for (const n of [1, 2] as const) {
      await waitFor(`node port ${nodePort} on ${nodeIP(n)}`, async () => assert.match(await hostGet(`http://${nodeIP(n)}:${nodePort}/`), /^web-[ab]$/));
    }
    const lbIP = svc.status!.loadBalancer!.ingress![0]!.ip!;
    await waitFor(`the load balancer IP ${lbIP}`, async () => assert.match(await hostGet(`http://${lbIP}/`), /^web-[ab]$/));
    // Exactly one node holds it: the first Ready node by name.
    const holders: number[] = [];
    for (const n of [1, 2] as const) if ((await nodeAddrs(n)).includes(`${lbIP}/32`)) holders.push(n);
    assert.deepEqual(holders, [1]);

    // loadBalancerSourceRanges without the host: the LB IP drops it, the node port still answers.
    const ranges = (list: string[]) => cluster.ok(['patch', 'service', '-n', ns, 'web', '--type', 'merge', '-p', JSON.stringify({ spec: { loadBalancerSourceRanges: list } })]);
    await ranges(['192.0.2.0/24']);
    await waitFor(`${lbIP} to drop the host`, async () => {
      const err = await hostGet(`http://${lbIP}/`, 1000).then(
        () => null,
        (e: NodeJS.ErrnoException) => e,
      );
      assert.equal(err?.code, 'ETIMEDOUT', `expected a drop (timeout), got ${err ? err.message : 'an answer'}`);
    });
    assert.match(await hostGet(`http://${nodeIP(1)}:${nodePort}/`), /^web-[ab]$/);
    // The host's bridge address in range: through again.
    await ranges([`${cluster.underlayPrefix}.1/32`]);
    await waitFor(`${lbIP} to answer the host again`, async () => assert.match(await hostGet(`http://${lbIP}/`), /^web-[ab]$/));

    await cluster.ok(['delete', 'service', '-n', ns, 'web']);
    await waitFor('the load balancer IP to be released', async () => assert.ok(!(await nodeAddrs(1)).includes(`${lbIP}/32`)));
  });

  it('externalTrafficPolicy Local keeps the client IP and drops on a node without endpoints; Cluster masquerades', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('etp');
    await apply(
      ns,
      web('web', 2, { app: 'web' }),
      service('local', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }),
      service('cluster', { type: 'NodePort', externalTrafficPolicy: 'Cluster', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }),
    );
    await ready(ns, 'web');
    const local = await waitFor('a load balancer IP', async () => {
      const s = await getService(ns, 'local');
      assert.ok(s.status?.loadBalancer?.ingress?.[0]?.ip, 'no ingress IP yet');
      return s;
    });
    const localPort = local.spec.ports[0]!.nodePort!;
    const clusterPort = (await getService(ns, 'cluster')).spec.ports[0]!.nodePort!;
    // The endpoint's node: the request arrives with the host's own address.
    await waitFor('the Local node port on node-2', async () => assert.equal(clientAddr(await hostGet(`http://${nodeIP(2)}:${localPort}/cgi-bin/ip`)), hostIP()));
    // The LoadBalancer IP is announced by the node with the endpoint, and keeps the client IP too.
    const lbIP = local.status!.loadBalancer!.ingress![0]!.ip!;
    await waitFor('the Local load balancer IP', async () => assert.equal(clientAddr(await hostGet(`http://${lbIP}/cgi-bin/ip`)), hostIP()));
    // A node without an endpoint drops (a timeout, not a refusal).
    await waitFor('node-1 to drop the Local node port', () =>
      assert.rejects(hostGet(`http://${nodeIP(1)}:${localPort}/`, 2000), (e: NodeJS.ErrnoException) => e.code === 'ETIMEDOUT'),
    );
    // Cluster: node-1 forwards to node-2's pod, masqueraded (the reply must come back through node-1).
    await waitFor('the Cluster node port on node-1', async () => {
      const seen = clientAddr(await hostGet(`http://${nodeIP(1)}:${clusterPort}/cgi-bin/ip`));
      assert.notEqual(seen, hostIP());
      assert.match(seen, /^\d+\.\d+\.\d+\.\d+$/);
    });
  });

  it('internalTrafficPolicy Local serves only clients on the endpoint node', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('itp');
    await apply(ns, web('web', 2, { app: 'web' }), client('near', 2), client('far', 1), service('web', { internalTrafficPolicy: 'Local', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }));
    await ready(ns, 'web', 'near', 'far');
    const { spec } = await getService(ns, 'web');
    await waitFor('the cluster IP from node-2', async () => assert.equal(await fetchIn(ns, 'near', `http://${spec.clusterIP}/`), 'web'));
    // node-1 has the Service programmed (a refusal would say otherwise) but no local endpoint.
    const far = await sh(ns, 'far', `timeout 3 wget -q -O- http://${spec.clusterIP}/`);
    assert.equal(far.code, 143, `node-1 has no local endpoint: a drop (timeout) was expected, got ${far.code}: ${far.stdout}${far.stderr}`);
  });

  it('sessionAffinity ClientIP keeps a client on one endpoint', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('aff');
    await apply(
      ns,
      web('web-a', 1, { app: 'web' }),
      web('web-b', 2, { app: 'web' }),
      client('client', 1),
      service('web', { selector: { app: 'web' }, sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } }, ports: [{ port: 80, targetPort: 8080 }] }),
    );
    await ready(ns, 'web-a', 'web-b', 'client');
    const { spec } = await getService(ns, 'web');
    await waitFor('the cluster IP', () => fetchIn(ns, 'client', `http://${spec.clusterIP}/`));
    const seen = await answers(ns, 'client', `http://${spec.clusterIP}/`, 20);
    assert.equal(seen.size, 1, `one endpoint expected, got ${[...seen].join(', ')}`);
  });

  it('multi-port Service with named target ports', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('multi');
    const twoServers = `mkdir -p /a /b && echo main > /a/index.html && echo admin > /b/index.html && httpd -p 8080 -h /a && exec httpd -f -p 9090 -h /b`;
    await apply(
      ns,
      pod('web', 1, { app: 'web' }, {
        containers: [{ name: 'web', image: cluster.busybox, command: ['sh', '-c', twoServers], ports: [{ name: 'http', containerPort: 8080 }, { name: 'admin', containerPort: 9090 }] }],
      }),
      client('client', 2),
      service('web', { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'admin', port: 81, targetPort: 'admin' }] }),
    );
    await ready(ns, 'web', 'client');
    const { spec } = await getService(ns, 'web');
    await waitFor('port 80', async () => assert.equal(await fetchIn(ns, 'client', `http://${spec.clusterIP}:80/`), 'main'));
    await waitFor('port 81', async () => assert.equal(await fetchIn(ns, 'client', `http://${spec.clusterIP}:81/`), 'admin'));
  });

  it('hairpin: a pod reaches itself through its Service, masqueraded', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('hairpin');
    await apply(ns, web('web', 1, { app: 'web' }), service('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }));
    await ready(ns, 'web');
    const { spec } = await getService(ns, 'web');
    const own = await podIP(ns, 'web');
    await waitFor('the pod through its own Service', async () => assert.equal(await fetchIn(ns, 'web', `http://${spec.clusterIP}/`), 'web'));
    // Without the masquerade the pod would answer itself directly and drop its own reply: the
    // request comes from the node's bridge address, the pods' gateway.
    const seen = clientAddr(await fetchIn(ns, 'web', `http://${spec.clusterIP}/cgi-bin/ip`));
    assert.equal(seen, own.replace(/\.\d+$/, '.1'));
  });

  it('a Service without selector reaches manual Endpoints', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('manual');
    await apply(ns, web('backend', 2, { app: 'nothing-selects-this' }), client('client', 1));
    await ready(ns, 'backend', 'client');
    const ip = await podIP(ns, 'backend');
    await apply(
      ns,
      service('external-db', { ports: [{ name: 'http', port: 80, targetPort: 8080 }] }),
      { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'external-db' }, subsets: [{ addresses: [{ ip }], ports: [{ name: 'http', port: 8080 }] }] },
    );
    const { spec } = await getService(ns, 'external-db');
    await waitFor('the manual endpoint', async () => assert.equal(await fetchIn(ns, 'client', `http://${spec.clusterIP}/`), 'backend'));
  });

  it('a Service without endpoints refuses at once', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('reject');
    await apply(ns, client('client', 1), service('nobody', { selector: { app: 'none' }, ports: [{ port: 80, targetPort: 8080 }] }));
    await ready(ns, 'client');
    const { spec } = await getService(ns, 'nobody');
    await waitFor('a fast refusal', async () => {
      const t0 = Date.now();
      const r = await sh(ns, 'client', `timeout 10 wget -q -O- http://${spec.clusterIP}/`);
      const took = Date.now() - t0;
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /refused/i);
      assert.ok(took < 5000, `took ${took} ms`);
    });
    // Nor does an unknown port of a cluster IP wait for a timeout.
    const other = await sh(ns, 'client', `timeout 10 wget -q -O- http://${spec.clusterIP}:81/`);
    assert.match(other.stderr, /refused/i);
  });

  it('UDP: an endpoint change flushes the old conntrack entry, the client moves at once', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('udp');
    const server = `const d=require('dgram').createSocket('udp4');d.on('message',(m,r)=>d.send(require('os').hostname(),r.port,r.address));d.bind(5353)`;
    await apply(
      ns,
      nodeJs('udp-a', 1, { app: 'udp' }, server),
      nodeJs('udp-b', 2, { app: 'standby' }, server),
      service('dns', { selector: { app: 'udp' }, ports: [{ port: 53, targetPort: 5353, protocol: 'UDP' }] }),
    );
    await ready(ns, 'udp-a', 'udp-b');
    const { spec } = await getService(ns, 'dns');
    // One socket, one source port, a datagram every 200 ms: one conntrack entry throughout.
    const send = `const d=require('dgram').createSocket('udp4');d.on('message',m=>console.log(String(m)));d.bind(40000,()=>setInterval(()=>d.send('q',53,'${spec.clusterIP}'),200))`;
    await apply(ns, nodeJs('asker', 1, { role: 'client' }, send));
    await ready(ns, 'asker');
    const last = async () => (await cluster.ok(['logs', '-n', ns, 'asker', '--tail', '1'])).trim();
    await waitFor('replies from udp-a', async () => assert.equal(await last(), 'udp-a'));
    // udp-a stays up and keeps answering: only the flush can move the flow to udp-b.
    await cluster.ok(['label', 'pod', '-n', ns, 'udp-a', 'app=standby', '--overwrite']);
    await cluster.ok(['label', 'pod', '-n', ns, 'udp-b', 'app=udp', '--overwrite']);
    await waitFor('replies from udp-b', async () => assert.equal(await last(), 'udp-b'), 20_000);
  });

  it('the kubernetes Service reaches the API server from a pod, with the service account CA and token', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('api');
    await apply(ns, nodeJs('client', 2, { role: 'client' }));
    await ready(ns, 'client');
    // The certificate must verify as kubernetes.default.svc at the Service's address.
    const get = [
      `const fs=require('fs'),d='/var/run/secrets/kubernetes.io/serviceaccount/';`,
      `require('https').get({host:process.env.KUBERNETES_SERVICE_HOST,port:process.env.KUBERNETES_SERVICE_PORT,path:'/api',servername:'kubernetes.default.svc',`,
      `ca:fs.readFileSync(d+'ca.crt'),headers:{authorization:'Bearer '+fs.readFileSync(d+'token','utf8')}},`,
      `r=>{let b='';r.on('data',x=>b+=x);r.on('end',()=>console.log(r.statusCode+' '+b))}).on('error',e=>{console.error(e.message);process.exit(1)})`,
    ].join('');
    await waitFor('the API through the kubernetes Service', async () => {
      const r = await cluster.kubectl(['exec', '-n', ns, 'client', '--', ...NODE_JS, '-e', get]);
      assert.equal(r.code, 0, r.stderr);
      const [status, ...body] = r.stdout.trim().split(' ');
      assert.equal(status, '200', r.stdout);
      assert.equal((JSON.parse(body.join(' ')) as { kind: string }).kind, 'APIVersions');
    });
    assert.equal((await sh(ns, 'client', 'echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT')).stdout.trim(), '10.96.0.1:443');
  });

  it('a Service the proxy cannot program gets an event; the others keep working', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('bad');
    const ext = `${cluster.underlayPrefix}.200`;
    await apply(ns, web('web', 1, { app: 'web' }), client('client', 2), service('first', { selector: { app: 'web' }, externalIPs: [ext], ports: [{ port: 80, targetPort: 8080 }] }));
    await ready(ns, 'web', 'client');
    // The same external IP and port again: the older Service keeps it.
    await apply(ns, service('second', { selector: { app: 'web' }, externalIPs: [ext], ports: [{ port: 80, targetPort: 8080 }] }));
    await waitFor('an AddressConflict event on the second Service', async () => {
      const all = await events(ns, 'second');
      assert.ok(
        all.some((e) => e.type === 'Warning' && e.reason === 'AddressConflict' && e.message.includes(`${ext} . tcp . 80`) && e.message.includes(`${ns}/first`)),
        JSON.stringify(all),
      );
    });
    const second = await getService(ns, 'second');
    await waitFor('the second Service by its cluster IP', async () => assert.equal(await fetchIn(ns, 'client', `http://${second.spec.clusterIP}/`), 'web'));
    // From a pod, the external IP is the first Service's.
    await waitFor('the external IP', async () => assert.equal(await fetchIn(ns, 'client', `http://${ext}/`), 'web'));
  });

  it('every rule of the proxy carries a comment', { timeout: TEST_TIMEOUT }, async () => {
    const st = await new Nft({ netns: `cairn-${cluster.name}-node-1` }).list();
    assert.ok(st, 'no cairn table on node-1');
    const ours = st.rules.filter((r) => /^(proxy-|service-|external-|endpoint-)/.test(r.chain));
    assert.ok(ours.length > 10, `only ${ours.length} proxy rules`);
    assert.deepEqual(
      ours.filter((r) => !r.comment).map((r) => r.chain),
      [],
    );
  });
});

// Alone, after the others: it stops node-1's agent (so no kubectl exec there meanwhile).
describe('an agent restart', () => {
  it('keeps Services working while the agent is down, then adopts and corrects the ruleset', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('restart');
    await apply(
      ns,
      web('web-a', 1, { app: 'web' }),
      service('web', { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }),
      service('doomed', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }),
    );
    await ready(ns, 'web-a');
    const nodePort = (await getService(ns, 'web')).spec.ports[0]!.nodePort!;
    const url = `http://${nodeIP(1)}:${nodePort}/`;
    await waitFor('the node port on node-1', async () => assert.equal(await hostGet(url), 'web-a'));
    const nft = new Nft({ netns: `cairn-${cluster.name}-node-1` });
    const doomedChains = async () => (await nft.listChains()).filter((c) => c.name.includes(`-${ns}-doomed-`)).map((c) => c.name);
    await waitFor('the doomed Service chains', async () => assert.ok((await doomedChains()).length > 0));

    const state = JSON.parse(await readFile(join(cluster.dir, 'cluster.json'), 'utf8')) as { spec: Record<string, string | number>; agentPids: Record<string, number> };
    process.kill(state.agentPids['1']!, 'SIGKILL');
    // The kernel keeps forwarding without the agent.
    assert.equal(await hostGet(url), 'web-a');
    // What changes meanwhile is there after the restart: a deleted Service's chains go, a new
    // endpoint comes.
    await cluster.ok(['delete', 'service', '-n', ns, 'doomed']);
    await apply(ns, web('web-b', 2, { app: 'web' }));
    await ready(ns, 'web-b');
    const { spec: cs } = state;
    const up = await cluster.cairn('up', '--nodes', String(cs['nodes']), '--data-dir', cluster.dir, '--name', String(cs['name']), '--api-port', String(cs['apiPort']), '--agent-base-port', String(cs['agentBasePort']), '--underlay-cidr', String(cs['underlayCidr']), '--cluster-cidr', String(cs['clusterCidr']), '--timeout', '150');
    assert.equal(up.code, 0, `cairn up: ${up.stdout}${up.stderr}`);
    await waitFor('the restarted agent to remove the deleted Service', async () => assert.deepEqual(await doomedChains(), []));
    await waitFor('both endpoints through node-1', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 20; i++) seen.add(await hostGet(url));
      assert.deepEqual([...seen].sort(), ['web-a', 'web-b']);
    });
  });
});
