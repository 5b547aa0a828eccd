/**
 * The model → nginx.conf, in the shape of ingress-nginx's nginx.tmpl (without its Lua): the same
 * proxy headers (X-Forwarded-*, X-Real-IP, X-Request-ID, Upgrade/Connection for websockets), the
 * same defaults (60 s proxy timeouts, 1m body limit, no response buffering, 308 to HTTPS,
 * keepalive to upstreams), every server on :80 and :443 of the node's namespace (the catch-all
 * as default_server, hosts without a certificate of their own on the default one).
 *
 * Every string that comes from an Ingress is written as a quoted nginx string; hosts are
 * validated DNS names. The renderer also says which Ingress each line comes from, so a
 * configuration `nginx -t` rejects can be blamed on — and rendered without — that Ingress.
 */
import type { IngressPaths } from './paths.js';
import { CATCH_ALL, type IngressModel, type Location, type Server } from './ingress-model.js';

export interface RenderOptions {
  paths: IngressPaths;
  /** The PEM (certificate + key) served to hosts without a certificate of their own. */
  defaultCertFile: string;
  worker: { user: string; group: string };
  nodeName: string;
}

export interface RenderedConf {
  text: string;
  /** The Ingress ("ns/name") a line (1-based) was rendered from, if any. */
  ownerOf(line: number): string | undefined;
}

/** A double-quoted nginx string: inside quotes nginx unescapes `\"` and `\\` (and \t \r \n). */
export function quote(s: string): string {
  if (/[\x00-\x1f\x7f]/.test(s)) throw new Error(`control character in nginx string ${JSON.stringify(s)}`);
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `*.foo.com` as a regex server name: one label, as the Ingress spec says (nginx's own `*.` spans any number). */
function serverName(name: string): string {
  if (name === CATCH_ALL) return CATCH_ALL;
  if (!name.startsWith('*.')) return name;
  return quote(`~^[^.]+${name.slice(1).replace(/\./g, '\\.')}$`);
}

/** server_names_hash_bucket_size must hold the longest name (nginx fails to start otherwise). */
function bucketSize(servers: Server[]): number {
  const longest = Math.max(0, ...servers.map((s) => s.name.length));
  let size = 64;
  while (size < longest + 32) size *= 2;
  return size;
}

class Lines {
  readonly lines: string[] = [];
  readonly owners: (string | undefined)[] = [];
  add(text: string, owner?: string): void {
    this.lines.push(text);
    this.owners.push(owner);
  }
}

function renderLocation(out: Lines, l: Location): void {
  const own = l.ingress;
  const add = (t: string) => out.add(`        ${t}`, own);
  out.add('', own);
  if (own) out.add(`        # ingress ${own}`, own);
  out.add(`        location ${l.modifier ? `${l.modifier} ` : ''}${quote(l.path)} {`, own);
  if (l.sslRedirect) add('    if ($scheme = http) { return 308 https://$host$request_uri; }');
  if (l.proxyReadTimeout) add(`    proxy_read_timeout ${l.proxyReadTimeout}s;`);
  if (l.proxySendTimeout) add(`    proxy_send_timeout ${l.proxySendTimeout}s;`);
  if ('status' in l.action) add(`    return ${l.action.status};`);
  else {
    if (l.rewrite) add(`    rewrite ${quote(l.rewrite.regex)} ${quote(l.rewrite.target)} break;`);
    add(`    proxy_pass http://${l.action.upstream};`);
  }
  add('}');
}

function renderServer(out: Lines, s: Server, defaultCertFile: string): void {
  const dflt = s.name === CATCH_ALL ? ' default_server' : '';
  out.add('');
  out.add('    server {');
  out.add(`        server_name ${serverName(s.name)};`);
  out.add(`        listen 80${dflt};`);
  out.add(`        listen 443 ssl http2${dflt};`);
  const cert = s.tls?.certFile;
  if (cert && cert !== defaultCertFile) {
    out.add(`        ssl_certificate ${quote(cert)};`);
    out.add(`        ssl_certificate_key ${quote(cert)};`);
  }
  for (const l of s.locations) renderLocation(out, l);
  out.add('    }');
}

export function renderNginxConf(model: IngressModel, opts: RenderOptions): RenderedConf {
  const { paths } = opts;
  const out = new Lines();
  const add = (t: string) => out.add(t);
  add(`# nginx.conf of the cairn Ingress controller on node ${opts.nodeName}: rendered from the API, rewritten on every change.`);
  add(`user ${opts.worker.user} ${opts.worker.group};`);
  add('worker_processes auto;');
  add('worker_rlimit_nofile 65536;');
  // Old workers finish their requests after a reload, but not forever (long websockets).
  add('worker_shutdown_timeout 240s;');
  add(`pid ${quote(paths.pidFile)};`);
  add(`error_log ${quote(paths.errorLog)} warn;`);
  add('pcre_jit on;');
  add('');
  add('events {');
  add('    worker_connections 16384;');
  add('    multi_accept on;');
  add('}');
  add('');
  add('http {');
  for (const [directive, dir] of [
    ['client_body_temp_path', 'client-body'],
    ['proxy_temp_path', 'proxy'],
    ['fastcgi_temp_path', 'fastcgi'],
    ['uwsgi_temp_path', 'uwsgi'],
    ['scgi_temp_path', 'scgi'],
  ] as const)
    add(`    ${directive} ${quote(`${paths.tmp}/${dir}`)};`);
  add('    access_log off;');
  add('    server_tokens off;');
  add('    default_type text/html;');
  add('    sendfile on;');
  add('    tcp_nopush on;');
  add('    tcp_nodelay on;');
  add('    keepalive_timeout 75s;');
  add('    keepalive_requests 1000;');
  add('    reset_timedout_connection on;');
  add(`    server_names_hash_bucket_size ${bucketSize(model.servers)};`);
  add('    server_names_hash_max_size 16384;');
  // The workers (www-data) may not be able to traverse the agent's data dir, so nothing may
  // spill to a temp file: bodies up to the 1m limit stay in memory, responses are not buffered.
  add('    client_max_body_size 1m;');
  add('    client_body_buffer_size 1m;');
  add('    proxy_buffering off;');
  add('    proxy_request_buffering on;');
  add('    proxy_max_temp_file_size 0;');
  add('');
  add('    ssl_protocols TLSv1.2 TLSv1.3;');
  add('    ssl_session_cache shared:SSL:10m;');
  add('    ssl_session_timeout 10m;');
  add(`    ssl_certificate ${quote(opts.defaultCertFile)};`);
  add(`    ssl_certificate_key ${quote(opts.defaultCertFile)};`);
  add('');
  // Upstream keepalive needs an empty Connection header unless the client upgrades.
  add('    map $http_upgrade $connection_upgrade {');
  add('        default upgrade;');
  add("        '' '';");
  add('    }');
  add('    map $http_host $best_http_host {');
  add('        default $http_host;');
  add("        '' $host;");
  add('    }');
  add('');
  add('    proxy_http_version 1.1;');
  add('    proxy_set_header Host $best_http_host;');
  add('    proxy_set_header Upgrade $http_upgrade;');
  add('    proxy_set_header Connection $connection_upgrade;');
  add('    proxy_set_header X-Request-ID $request_id;');
  add('    proxy_set_header X-Real-IP $remote_addr;');
  add('    proxy_set_header X-Forwarded-For $remote_addr;');
  add('    proxy_set_header X-Forwarded-Host $best_http_host;');
  add('    proxy_set_header X-Forwarded-Port $server_port;');
  add('    proxy_set_header X-Forwarded-Proto $scheme;');
  add('    proxy_set_header X-Forwarded-Scheme $scheme;');
  add('    proxy_set_header X-Scheme $scheme;');
  // httpoxy: never pass a client's Proxy header to CGI-style backends.
  add('    proxy_set_header Proxy "";');
  add('    proxy_connect_timeout 5s;');
  add('    proxy_send_timeout 60s;');
  add('    proxy_read_timeout 60s;');
  add('    proxy_redirect off;');
  add('    proxy_next_upstream error timeout;');
  add('    proxy_next_upstream_tries 3;');
  for (const u of model.upstreams) {
    add('');
    add(`    upstream ${u.name} {`);
    // No passive health marking (max_fails=0): the EndpointSlices say which pods are ready.
    for (const s of u.servers) add(`        server ${s} max_fails=0;`);
    add('        keepalive 320;');
    add('        keepalive_timeout 60s;');
    add('        keepalive_requests 10000;');
    add('    }');
  }
  for (const s of model.servers) renderServer(out, s, opts.defaultCertFile);
  add('}');
  add('');
  return { text: out.lines.join('\n'), ownerOf: (line) => out.owners[line - 1] };
}
