// nginx.conf rendering: quoting of everything an Ingress can put in it, wildcard server names,
// and the real `nginx -t` accepting what we render (and pointing at the line it rejects).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CertificateStore } from '../../src/ingress/certificates.js';
import type { IngressModel } from '../../src/ingress/ingress-model.js';
import { Nginx, NginxConfigError, workerAccount } from '../../src/ingress/nginx.js';
import { quote, renderNginxConf, type RenderOptions } from '../../src/ingress/nginx-conf.js';
import { ingressPaths, makeIngressDirs } from '../../src/ingress/paths.js';

let dir: string;
let opts: RenderOptions;
let nginx: Nginx;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-ingress-conf-'));
  const paths = ingressPaths(dir);
  await makeIngressDirs(paths);
  const certs = new CertificateStore(paths.ssl, () => undefined);
  await certs.init();
  opts = { paths, defaultCertFile: certs.defaultFile, worker: await workerAccount(), nodeName: 'node-1' };
  nginx = new Nginx({ conf: paths.conf, pidFile: paths.pidFile, prefix: `${paths.dir}/` });
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const model = (over: Partial<IngressModel> = {}): IngressModel => ({ servers: [], upstreams: [], warnings: [], services: new Set(), secrets: new Set(), ...over });

async function check(text: string): Promise<void> {
  const file = join(dir, 'ingress', 'test.conf');
  await writeFile(file, text);
  await nginx.test(file);
}

test('quote escapes what nginx unescapes inside double quotes, and refuses control characters', () => {
  assert.equal(quote('/a b'), '"/a b"');
  assert.equal(quote('say "hi"'), '"say \\"hi\\""');
  assert.equal(quote('^/a\\.b$'), '"^/a\\\\.b$"');
  assert.throws(() => quote('/a\nb'), /control character/);
});

test('a configuration with every kind of location passes nginx -t', async () => {
  const conf = renderNginxConf(
    model({
      upstreams: [{ name: 'default_web_80', servers: ['10.0.0.1:8080', '10.0.0.2:8080'] }],
      servers: [
        { name: '_', locations: [{ modifier: '', path: '/', action: { status: 404 }, sslRedirect: false }] },
        {
          name: 'foo.bar.com',
          tls: {},
          locations: [
            { modifier: '=', path: '/a"b;c{d}', action: { upstream: 'default_web_80' }, sslRedirect: true, ingress: 'default/x' },
            { modifier: '~*', path: '^/something(/|$)(.*)', action: { upstream: 'default_web_80' }, rewrite: { regex: '(?i)/something(/|$)(.*)', target: '/$2' }, sslRedirect: true, ingress: 'default/x' },
            { modifier: '~', path: '^/a\\.b(/|$)', action: { status: 503 }, sslRedirect: false, proxyReadTimeout: 3600, proxySendTimeout: 3600, ingress: 'default/y' },
            { modifier: '', path: '/', action: { upstream: 'default_web_80' }, sslRedirect: true },
          ],
        },
        { name: '*.wild.com', locations: [{ modifier: '', path: '/', action: { status: 404 }, sslRedirect: false }] },
        { name: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.com`, locations: [{ modifier: '', path: '/', action: { status: 404 }, sslRedirect: false }] },
      ],
    }),
    opts,
  );
  assert.match(conf.text, /server_name "~\^\[\^\.\]\+\\\\\.wild\\\\\.com\$";/);
  assert.match(conf.text, /location = "\/a\\"b;c\{d\}" \{/);
  assert.match(conf.text, /rewrite "\(\?i\)\/something\(\/\|\$\)\(\.\*\)" "\/\$2" break;/);
  assert.match(conf.text, /if \(\$scheme = http\) \{ return 308 https:\/\/\$host\$request_uri; \}/);
  await check(conf.text);
});

test('nginx -t failures carry the line, and the line maps back to its Ingress', async () => {
  const conf = renderNginxConf(
    model({
      servers: [
        { name: '_', locations: [{ modifier: '', path: '/', action: { status: 404 }, sslRedirect: false }] },
        { name: 'x.com', locations: [{ modifier: '~*', path: '^/(unclosed', action: { status: 404 }, sslRedirect: false, ingress: 'ns/broken' }] },
      ],
    }),
    opts,
  );
  const err = await check(conf.text).then(
    () => assert.fail('nginx accepted an invalid regex'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof NginxConfigError, String(err));
  assert.match(err.detail, /pcre2?_compile\(\) failed|missing \)/);
  assert.equal(conf.ownerOf(err.line!), 'ns/broken');
});
