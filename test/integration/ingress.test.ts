/**
 * The Ingress controller end to end (root): one `cairn up` cluster of two nodes, every agent
 * running nginx in its node's namespace, and what a user sees from the host — curl to each
 * node's address with Host headers (and SNI with `--resolve`), `kubectl get` of status and
 * events. Backends are busybox pods: the Kubernetes documentation's examples (examples/ingress,
 * httpd) and "echo" pods (`nc -ll -e` with a script that answers with the pod's name, the request
 * line and the headers it got, waits on /slow, and answers an Upgrade with 101 and an echo).
 * The tests run in order on the one cluster; each removes what it would let leak into the next.
 * Fails (never skips) when a tool is missing; the cluster is gone when the file ends.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createCa, issueCertificate, type KeyPairPem } from '../../src/api/pki.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { until } from '../support/until.js';

const TEST_TIMEOUT = 240_000;
const WAIT = 90_000;
const EXAMPLES = new URL('../../../examples/ingress/', import.meta.url).pathname;
const EXAMPLE_IMAGE = 'cairn.local/busybox:1.35.0';

let cluster: CairnCluster;
let nodeIPs: string[];
let ca: KeyPairPem;
let downDone = false;

// ---- what a user runs ----

interface Answer {
  status: number;
  headers: string;
  body: string;
  /** curl's exit code and complaint when there was no HTTP answer at all. */
  curlCode: number | null;
  error: string;
}

/** curl from the host; `host` goes in the Host header (http) or through --resolve (https, for SNI). */
async function curl(ip: string, host: string, path: string, opts: { https?: boolean; cacert?: string; insecure?: boolean; timeoutS?: number } = {}): Promise<Answer> {
  const args = ['-sS', '-i', '-m', String(opts.timeoutS ?? 10)];
  if (opts.https) {
    args.push('--resolve', `${host}:443:${ip}`, `https://${host}${path}`);
    if (opts.cacert) args.push('--cacert', opts.cacert);
    if (opts.insecure) args.push('-k');
  } else args.push('-H', `Host: ${host}`, `http://${ip}${path}`);
  // Not run(): it writes to stdin, which curl may have closed by then (EPIPE).
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    execFile('curl', args, { timeout: (opts.timeoutS ?? 10) * 1000 + 5000, maxBuffer: 1 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    ),
  );
  const cut = r.stdout.indexOf('\r\n\r\n');
  const headers = cut < 0 ? r.stdout : r.stdout.slice(0, cut);
  const status = Number(/^HTTP\/\S+ (\d{3})/.exec(headers)?.[1] ?? 0);
  return { status, headers: headers.toLowerCase(), body: cut < 0 ? '' : r.stdout.slice(cut + 4), curlCode: r.code, error: r.stderr };
}

/** Waits until every node answers `host``path` with this status and (if given) a body starting so. */
async function expectEverywhere(host: string, path: string, status: number, bodyStart?: string, opts: Parameters<typeof curl>[3] = {}): Promise<Answer[]> {
  return until(
    `${host}${path} → ${status}${bodyStart ? ` ${bodyStart}` : ''} on every node`,
    async () => {
      const answers = await Promise.all(nodeIPs.map((ip) => curl(ip, host, path, opts)));
      const ok = answers.every((a) => a.status === status && (bodyStart === undefined || a.body.startsWith(bodyStart)));
      if (!ok) throw new Error(answers.map((a, i) => `${nodeIPs[i]}: ${a.status} ${a.body.split('\n')[0]} ${a.error}`.trim()).join('; '));
      return answers;
    },
    WAIT,
    300,
  );
}

async function apply(...items: object[]): Promise<void> {
  await cluster.ok(['apply', '-f', '-'], { input: items.map((o) => JSON.stringify(o)).join('\n') });
}

type PathSpec = { path: string; pathType: string; service: string; port?: number };
function ingress(name: string, rules: { host?: string; paths: PathSpec[] }[], extra: { annotations?: Record<string, string>; tls?: object[]; defaultBackend?: string; className?: string } = {}): object {
  const backend = (service: string, port = 80) => ({ service: { name: service, port: { number: port } } });
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: 'default', ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: {
      ...(extra.className ? { ingressClassName: extra.className } : {}),
      ...(extra.defaultBackend ? { defaultBackend: backend(extra.defaultBackend) } : {}),
      ...(extra.tls ? { tls: extra.tls } : {}),
      rules: rules.map((r) => ({ ...(r.host ? { host: r.host } : {}), http: { paths: r.paths.map((p) => ({ path: p.path, pathType: p.pathType, backend: backend(p.service, p.port) })) } })),
    },
  };
}

interface EventList {
  items: { reason: string; type: string; message: string; involvedObject: { kind: string; name: string } }[];
}
async function warningFor(ingressName: string, reason: string): Promise<string> {
  return until(
    `a ${reason} Warning event on Ingress ${ingressName}`,
    async () => {
      const ev = await cluster.json<EventList>(['get', 'events', '-n', 'default']);
      return ev.items.find((e) => e.type === 'Warning' && e.reason === reason && e.involvedObject.kind === 'Ingress' && e.involvedObject.name === ingressName)?.message;
    },
    WAIT,
    1000,
  );
}

// ---- the nginx processes ----

const pidFile = (node: number) => join(cluster.dir, 'nodes', String(node), 'ingress', 'nginx.pid');
const masterPid = (node: number) => Number(readFileSync(pidFile(node), 'utf8').trim());
const procTitle = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '');
  } catch {
    return ''; // gone meanwhile
  }
};
/** The master's current workers (not those of an older configuration, still finishing requests). */
const workers = (pid: number) =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter((w) => w && procTitle(Number(w)) === 'nginx: worker process')
    .map(Number)
    .sort();
const reloads = (node: number) => readFileSync(join(cluster.dir, 'logs', `node-${node}.log`), 'utf8').split('\n').filter((l) => l.includes('"nginx reloaded"')).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- the echo backends ----

const ECHO_SCRIPT = `#!/bin/sh
# One HTTP exchange on stdin/stdout (busybox nc -ll -e).
read -r method path proto
headers=""
upgrade=""
while read -r line; do
  line="\${line%$(printf '\\r')}"
  [ -z "$line" ] && break
  headers="$headers$line
"
  case "$line" in [Uu]pgrade:*) upgrade=1 ;; esac
done
if [ -n "$upgrade" ]; then
  printf 'HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n'
  exec cat
fi
case "$path" in /slow*) sleep 4 ;; esac
body="$NAME $method $path
$headers"
printf 'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nConnection: close\\r\\nContent-Length: %s\\r\\n\\r\\n%s' "\${#body}" "$body"
`;

function echoBackend(name: string): object[] {
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: 'default' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            containers: [
              {
                name: 'echo',
                image: cluster.busybox,
                command: ['nc', '-ll', '-p', '8080', '-e', '/echo/echo.sh'],
                env: [{ name: 'NAME', value: name }],
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 2 },
                volumeMounts: [{ name: 'script', mountPath: '/echo' }],
              },
            ],
            volumes: [{ name: 'script', configMap: { name: 'echo-script', defaultMode: 0o755 } }],
          },
        },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } },
  ];
}

before(async () => {
  for (const tool of ['curl', 'kubectl']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (r.error) throw new Error(`${tool} is missing (scripts/setup.sh installs it): ${r.error.message}`);
  }
  if (!existsSync('/usr/sbin/nginx')) throw new Error('/usr/sbin/nginx is missing: install nginx-light (scripts/setup.sh does)');
  cluster = await upCluster({ nodes: 2, label: 'ingress' });
  nodeIPs = [`${cluster.underlayPrefix}.11`, `${cluster.underlayPrefix}.12`];
  ca = await createCa('ingress-test-ca');
  await writeFile(join(cluster.dir, 'ca.pem'), ca.certPem);
  await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'echo-script', namespace: 'default' }, data: { 'echo.sh': ECHO_SCRIPT } }, ...echoBackend('echo-a'), ...echoBackend('echo-b'));
  await cluster.ok(['rollout', 'status', 'deployment/echo-a', 'deployment/echo-b', '--timeout=120s'], { timeoutMs: 150_000 });
});

after(async () => {
  if (cluster && !downDone) await cluster.down();
});

test('cairn up makes the IngressClass cairn, the default class', { timeout: TEST_TIMEOUT }, async () => {
  const cls = await cluster.json<{ metadata: { annotations?: Record<string, string> }; spec: { controller: string } }>(['get', 'ingressclass', 'cairn']);
  assert.equal(cls.spec.controller, 'cairn.io/ingress-nginx');
  assert.equal(cls.metadata.annotations?.['ingressclass.kubernetes.io/is-default-class'], 'true');
});

test('the seed examples work as written: simple fanout and name-based virtual hosting, on every node', { timeout: TEST_TIMEOUT }, async () => {
  for (const f of ['backends.yaml', 'simple-fanout.yaml', 'name-virtual-host.yaml']) {
    const yaml = (await readFile(join(EXAMPLES, f), 'utf8')).replaceAll(EXAMPLE_IMAGE, cluster.busybox);
    await cluster.ok(['apply', '-n', 'default', '-f', '-'], { input: yaml });
  }
  await cluster.ok(['rollout', 'status', 'deployment/service1', 'deployment/service2', '--timeout=120s'], { timeoutMs: 150_000 });
  await expectEverywhere('foo.bar.com', '/foo', 200, 'service1 (');
  await expectEverywhere('foo.bar.com', '/bar', 200, 'service2 (');
  await expectEverywhere('foo.bar.com', '/', 200, 'service1 (');
  await expectEverywhere('bar.foo.com', '/', 200, 'service2 (');
  // No rule for this host and no default backend: 404.
  await expectEverywhere('nobody.example', '/', 404);
});

test('status.loadBalancer lists the Ready nodes, and kubectl shows them', { timeout: TEST_TIMEOUT }, async () => {
  for (const name of ['simple-fanout-example', 'name-virtual-host-ingress']) {
    await until(
      `the addresses of ${name}`,
      async () => {
        const ing = await cluster.json<{ status?: { loadBalancer?: { ingress?: { ip: string }[] } } }>(['get', 'ingress', name]);
        return JSON.stringify(ing.status?.loadBalancer?.ingress) === JSON.stringify(nodeIPs.map((ip) => ({ ip })));
      },
      WAIT,
      1000,
    );
  }
  // kubectl cuts the ADDRESS column to 16 characters, as upstream's printer.
  const addresses = nodeIPs.join(',');
  const shown = addresses.length > 16 ? `${addresses.slice(0, 13)}...` : addresses;
  const row = (await cluster.ok(['get', 'ingress', 'simple-fanout-example'])).split('\n')[1]!.split(/\s+/);
  assert.deepEqual(row.slice(0, 5), ['simple-fanout-example', '<none>', 'foo.bar.com', shown, '80']);
});

test('path types: Exact, Prefix element-wise with trailing slashes ignored, longest match, Exact beats Prefix', { timeout: TEST_TIMEOUT }, async () => {
  await apply(
    ingress('paths', [
      {
        host: 'paths.test',
        paths: [
          { path: '/aaa', pathType: 'Prefix', service: 'echo-a' },
          { path: '/aaa/bbb', pathType: 'Prefix', service: 'echo-b' },
          { path: '/ccc/', pathType: 'Prefix', service: 'echo-b' },
          { path: '/x', pathType: 'Exact', service: 'echo-a' },
          { path: '/x', pathType: 'Prefix', service: 'echo-b' },
          { path: '/impl', pathType: 'ImplementationSpecific', service: 'echo-a' },
        ],
      },
    ]),
  );
  const cases: [string, number, string?][] = [
    ['/aaa', 200, 'echo-a GET /aaa\n'],
    ['/aaa/', 200, 'echo-a GET /aaa/\n'],
    ['/aaa/zzz', 200, 'echo-a GET /aaa/zzz\n'],
    ['/aaaccc', 404],
    ['/aaa/bbb', 200, 'echo-b GET /aaa/bbb\n'],
    ['/aaa/bbb/c', 200, 'echo-b GET /aaa/bbb/c\n'],
    ['/aaa/bbbc', 200, 'echo-a GET /aaa/bbbc\n'],
    ['/ccc', 200, 'echo-b GET /ccc\n'],
    ['/ccc/d', 200, 'echo-b GET /ccc/d\n'],
    ['/x', 200, 'echo-a GET /x\n'],
    ['/x/', 200, 'echo-b GET /x/\n'],
    ['/x/y', 200, 'echo-b GET /x/y\n'],
    ['/impl/q', 200, 'echo-a GET /impl/q\n'],
    ['/implq', 404],
    ['/', 404],
  ];
  await expectEverywhere('paths.test', '/aaa', 200, 'echo-a');
  for (const [path, status, body] of cases) await expectEverywhere('paths.test', path, status, body);
});

test('proxy headers: X-Forwarded-*, X-Real-IP, the Host the client sent', { timeout: TEST_TIMEOUT }, async () => {
  const [a] = await expectEverywhere('paths.test', '/aaa/h', 200, 'echo-a');
  const body = a!.body;
  for (const h of ['Host: paths.test', `X-Real-IP: ${cluster.underlayPrefix}.1`, `X-Forwarded-For: ${cluster.underlayPrefix}.1`, 'X-Forwarded-Host: paths.test', 'X-Forwarded-Port: 80', 'X-Forwarded-Proto: http'])
    assert.ok(body.includes(`${h}\n`), `${h} in:\n${body}`);
  assert.match(body, /X-Request-ID: [0-9a-f]{32}\n/);
});

test('wildcard hosts match exactly one label', { timeout: TEST_TIMEOUT }, async () => {
  await apply(ingress('wild', [{ host: '*.wild.test', paths: [{ path: '/', pathType: 'Prefix', service: 'echo-b' }] }]));
  await expectEverywhere('one.wild.test', '/w', 200, 'echo-b GET /w\n');
  await expectEverywhere('two.wild.test', '/', 200, 'echo-b GET /\n');
  await expectEverywhere('one.two.wild.test', '/', 404);
  await expectEverywhere('wild.test', '/', 404);
});

test('rewrite-target with capture groups (use-regex)', { timeout: TEST_TIMEOUT }, async () => {
  await apply(
    ingress('rewrite', [{ host: 'rewrite.test', paths: [{ path: '/something(/|$)(.*)', pathType: 'ImplementationSpecific', service: 'echo-a' }] }], {
      annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true', 'nginx.ingress.kubernetes.io/rewrite-target': '/$2' },
    }),
  );
  await expectEverywhere('rewrite.test', '/something', 200, 'echo-a GET /\n');
  await expectEverywhere('rewrite.test', '/something/', 200, 'echo-a GET /\n');
  await expectEverywhere('rewrite.test', '/something/new?q=1', 200, 'echo-a GET /new?q=1\n');
  await expectEverywhere('rewrite.test', '/other', 404);
});

test('TLS with SNI: two hosts, two certificates; plain HTTP redirects with 308', { timeout: TEST_TIMEOUT }, async () => {
  const cacert = join(cluster.dir, 'ca.pem');
  for (const host of ['tls-a.test', 'tls-b.test']) {
    const pair = await issueCertificate(ca, { commonName: host, dnsNames: [host], usage: 'server' });
    await writeFile(join(cluster.dir, `${host}.crt`), pair.certPem);
    await writeFile(join(cluster.dir, `${host}.key`), pair.keyPem);
    await cluster.ok(['create', 'secret', 'tls', host, '--cert', join(cluster.dir, `${host}.crt`), '--key', join(cluster.dir, `${host}.key`)]);
  }
  await apply(
    ingress(
      'tls',
      [
        { host: 'tls-a.test', paths: [{ path: '/', pathType: 'Prefix', service: 'echo-a' }] },
        { host: 'tls-b.test', paths: [{ path: '/', pathType: 'Prefix', service: 'echo-b' }] },
      ],
      { tls: [{ hosts: ['tls-a.test'], secretName: 'tls-a.test' }, { hosts: ['tls-b.test'], secretName: 'tls-b.test' }] },
    ),
  );
  // curl checks each host's certificate against the test CA: only the right one per SNI name passes.
  await expectEverywhere('tls-a.test', '/s', 200, 'echo-a GET /s\n', { https: true, cacert });
  const [b] = await expectEverywhere('tls-b.test', '/s', 200, 'echo-b GET /s\n', { https: true, cacert });
  assert.ok(b!.body.includes('X-Forwarded-Proto: https\n'), b!.body);
  const [redirect] = await expectEverywhere('tls-a.test', '/r?x=1', 308);
  assert.match(redirect!.headers, /\r\nlocation: https:\/\/tls-a\.test\/r\?x=1(\r\n|$)/);
  // A host without TLS is not redirected, and over HTTPS gets the default (untrusted) certificate.
  await expectEverywhere('paths.test', '/aaa', 200, 'echo-a');
  const plain = await curl(nodeIPs[0]!, 'paths.test', '/aaa', { https: true, cacert });
  assert.equal(plain.curlCode, 60, `certificate check of the default certificate: ${plain.error}`);
});

test('a missing TLS Secret: a Warning event, and the host is served with the default certificate', { timeout: TEST_TIMEOUT }, async () => {
  await apply(ingress('tls-missing', [{ host: 'tls-m.test', paths: [{ path: '/', pathType: 'Prefix', service: 'echo-a' }] }], { tls: [{ hosts: ['tls-m.test'], secretName: 'nope' }] }));
  assert.match(await warningFor('tls-missing', 'SecretNotFound'), /Secret default\/nope not found: host tls-m\.test is served with the default certificate/);
  await expectEverywhere('tls-m.test', '/', 200, 'echo-a GET /\n', { https: true, insecure: true });
  const strict = await curl(nodeIPs[0]!, 'tls-m.test', '/', { https: true, cacert: join(cluster.dir, 'ca.pem') });
  assert.equal(strict.curlCode, 60, strict.error);
  await cluster.ok(['delete', 'ingress', 'tls-missing']);
});

test('a missing Service: 503 and a Warning event, while the rest keeps serving', { timeout: TEST_TIMEOUT }, async () => {
  await apply(ingress('no-service', [{ host: 'broken.test', paths: [{ path: '/', pathType: 'Prefix', service: 'does-not-exist' }] }]));
  await expectEverywhere('broken.test', '/', 503);
  assert.match(await warningFor('no-service', 'ServiceNotFound'), /Service default\/does-not-exist not found/);
  await expectEverywhere('paths.test', '/aaa', 200, 'echo-a');
  // A Service without ready endpoints answers 503 too; once it has one, requests reach it.
  await cluster.ok(['scale', 'deployment/echo-b', '--replicas=0']);
  await expectEverywhere('one.wild.test', '/', 503);
  await cluster.ok(['scale', 'deployment/echo-b', '--replicas=1']);
  await expectEverywhere('one.wild.test', '/', 200, 'echo-b');
  await cluster.ok(['delete', 'ingress', 'no-service']);
});

test('an Ingress nginx rejects is left out with a Warning event; the others keep being served', { timeout: TEST_TIMEOUT }, async () => {
  await apply(
    ingress('bad-regex', [{ host: 'bad.test', paths: [{ path: '/(unclosed', pathType: 'ImplementationSpecific', service: 'echo-a' }] }], {
      annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true' },
    }),
    ingress('good-neighbour', [{ host: 'good.test', paths: [{ path: '/', pathType: 'Prefix', service: 'echo-b' }] }]),
  );
  await expectEverywhere('good.test', '/', 200, 'echo-b');
  assert.match(await warningFor('bad-regex', 'InvalidConfiguration'), /nginx rejected the configuration made from this Ingress \(.*\): it is not served/);
  await expectEverywhere('bad.test', '/(unclosed', 404);
  await cluster.ok(['delete', 'ingress', 'bad-regex']);
});

test('conflicting rules: the older Ingress wins, the newer gets a Warning event', { timeout: TEST_TIMEOUT }, async () => {
  await apply(ingress('conflict-old', [{ host: 'conflict.test', paths: [{ path: '/p', pathType: 'Prefix', service: 'echo-a' }] }]));
  await expectEverywhere('conflict.test', '/p', 200, 'echo-a');
  await sleep(1100); // creationTimestamp has whole seconds
  await apply(ingress('conflict-new', [{ host: 'conflict.test', paths: [{ path: '/p/', pathType: 'Prefix', service: 'echo-b' }, { path: '/q', pathType: 'Prefix', service: 'echo-b' }] }]));
  await expectEverywhere('conflict.test', '/q', 200, 'echo-b');
  await expectEverywhere('conflict.test', '/p', 200, 'echo-a');
  assert.match(await warningFor('conflict-new', 'RuleConflict'), /host conflict\.test path \/p\/ \(Prefix\) is already served by Ingress default\/conflict-old/);
});

test('websocket: the Upgrade passes through and the connection stays open both ways', { timeout: TEST_TIMEOUT }, async () => {
  await apply(
    ingress('ws', [{ host: 'ws.test', paths: [{ path: '/ws', pathType: 'Prefix', service: 'echo-a' }] }], {
      annotations: { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600', 'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600' },
    }),
  );
  await expectEverywhere('ws.test', '/ws', 200, 'echo-a');
  for (const ip of nodeIPs) {
    const got = await new Promise<string>((resolve, reject) => {
      const s = connect({ host: ip, port: 80 }, () =>
        s.write('GET /ws/chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'),
      );
      let data = '';
      let sent = 0;
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`no echo through ${ip}: ${JSON.stringify(data)}`));
      }, 15_000);
      s.on('data', (d: Buffer) => {
        data += d.toString('latin1');
        if (sent === 0 && data.includes('\r\n\r\n')) {
          sent = 1;
          s.write('frame-1');
          setTimeout(() => s.write('frame-2'), 1500);
        }
        if (data.includes('frame-1frame-2')) {
          clearTimeout(timer);
          s.destroy();
          resolve(data);
        }
      });
      s.on('error', reject);
    });
    assert.match(got, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(got.toLowerCase(), /\r\nupgrade: websocket\r\n/);
    assert.match(got.toLowerCase(), /\r\nconnection: upgrade\r\n/);
  }
});

test('default backend: an Ingress with only a backend takes every request nothing else matches', { timeout: TEST_TIMEOUT }, async () => {
  await apply({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'catch-all', namespace: 'default' },
    spec: { defaultBackend: { service: { name: 'echo-b', port: { number: 80 } } } },
  });
  await expectEverywhere('nobody.example', '/anything', 200, 'echo-b GET /anything\n');
  await expectEverywhere('paths.test', '/aaa', 200, 'echo-a');
  await cluster.ok(['delete', 'ingress', 'catch-all']);
  await expectEverywhere('nobody.example', '/anything', 404);
});

test('Ingresses of another class are left alone; the legacy class annotation is honoured', { timeout: TEST_TIMEOUT }, async () => {
  await apply(
    ingress('other-class', [{ host: 'other.test', paths: [{ path: '/', pathType: 'Prefix', service: 'echo-a' }] }], { className: 'someone-else' }),
    ingress('legacy', [{ host: 'legacy.test', paths: [{ path: '/', pathType: 'Prefix', service: 'echo-a' }] }], { annotations: { 'kubernetes.io/ingress.class': 'cairn' } }),
  );
  await expectEverywhere('legacy.test', '/', 200, 'echo-a');
  await expectEverywhere('other.test', '/', 404);
  const other = await cluster.json<{ status?: { loadBalancer?: { ingress?: unknown[] } } }>(['get', 'ingress', 'other-class']);
  assert.equal(other.status?.loadBalancer?.ingress, undefined);
});

test('a reload does not drop an in-flight request; an unchanged configuration is not reloaded', { timeout: TEST_TIMEOUT }, async () => {
  await apply(ingress('slow', [{ host: 'slow.test', paths: [{ path: '/', pathType: 'Prefix', service: 'echo-a' }] }]));
  await expectEverywhere('slow.test', '/fast', 200, 'echo-a');
  const pid = masterPid(1);
  const before = workers(pid);
  const reloadsBefore = reloads(1);
  const started = Date.now();
  const inFlight = curl(nodeIPs[0]!, 'slow.test', '/slow', { timeoutS: 30 });
  await sleep(500);
  await apply(ingress('reload-trigger', [{ host: 'new.test', paths: [{ path: '/', pathType: 'Prefix', service: 'echo-b' }] }]));
  await expectEverywhere('new.test', '/', 200, 'echo-b');
  assert.ok(Date.now() - started < 4000, 'the reload came after the slow request ended: the test proves nothing');
  assert.equal(masterPid(1), pid, 'the same master (a reload, not a restart)');
  assert.ok(reloads(1) > reloadsBefore);
  assert.notDeepEqual(workers(pid), before, 'new workers after the reload');
  const slow = await inFlight;
  assert.equal(slow.status, 200, `${slow.error} ${slow.body}`);
  assert.match(slow.body, /^echo-a GET \/slow\n/);

  // A change that renders the same configuration (an unrelated annotation) reloads nothing.
  const settled = reloads(1);
  const now = workers(pid);
  await cluster.ok(['annotate', 'ingress', 'slow', 'example.com/touched=yes']);
  await sleep(3000);
  assert.equal(reloads(1), settled);
  assert.deepEqual(workers(pid), now);
});

test('a restarted agent adopts the running nginx master by its pid file', { timeout: TEST_TIMEOUT }, async () => {
  const pid = masterPid(1);
  const state = JSON.parse(await readFile(join(cluster.dir, 'cluster.json'), 'utf8')) as { agentPids: Record<string, number> };
  process.kill(state.agentPids['1']!, 'SIGKILL');
  // nginx keeps serving with the agent gone.
  await expectEverywhere('paths.test', '/aaa', 200, 'echo-a');
  const r = await cluster.cairn('up', '--data-dir', cluster.dir, '--timeout', '150');
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  await apply(ingress('after-restart', [{ host: 'after.test', paths: [{ path: '/', pathType: 'Prefix', service: 'echo-a' }] }]));
  await expectEverywhere('after.test', '/', 200, 'echo-a');
  assert.equal(masterPid(1), pid, 'the new agent reloaded the master it found, not a new one');
});

test('cairn down stops every nginx master of the cluster', { timeout: TEST_TIMEOUT }, async () => {
  const pids = [masterPid(1), masterPid(2)];
  const dir = cluster.dir;
  downDone = true;
  await cluster.down();
  for (const pid of pids) assert.equal(procTitle(pid).includes(dir), false, `nginx ${pid} still runs`);
});
