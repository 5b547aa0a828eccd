/**
 * The Ceph command-line tools behind one module: `ceph` and `rbd` (JSON out), `ceph-authtool`
 * (keys and keyrings), `monmaptool`, the daemons' `--mkfs` and the argv that starts a daemon.
 * Every call runs the program with an argument vector (runTool) and turns a failure into a
 * CephError carrying what ran and what it said.
 */
import { runTool, ToolError, type ToolOptions } from '../net/exec.js';

export class CephError extends ToolError {}

/** Who a client call authenticates as: `client.<id>` with the key in `keyring`, against `conf`'s monitors. */
export interface CephAuth {
  conf: string;
  keyring: string;
  /** The client id without "client." (e.g. "admin"). */
  id: string;
}

export type DaemonType = 'mon' | 'mgr' | 'osd' | 'mds';

/** How long a client waits for the monitors before giving up (seconds). */
const CONNECT_TIMEOUT_S = 20;

async function call(cmd: string, args: string[], opts: ToolOptions = {}): Promise<string> {
  let r;
  try {
    r = await runTool(cmd, args, { timeoutMs: 60_000, ...opts });
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new CephError(missing ? `${cmd} is not installed (Debian's ceph packages)` : `${cmd}: ${(e as Error).message}`, [cmd, ...args], '', null);
  }
  if (r.code !== 0) {
    const said = r.stderr.trim().split('\n').filter(Boolean).slice(-3).join('; ') || `exit ${r.code}`;
    throw new CephError(`${cmd} ${args.filter((a) => !a.startsWith('/')).slice(0, 6).join(' ')}: ${said}`, [cmd, ...args], r.stderr, r.code);
  }
  return r.stdout;
}

/** A CLI call logs nowhere: its errors come back on stderr, and no file is left under /var/log/ceph. */
function clientArgs(auth: CephAuth): string[] {
  return ['--conf', auth.conf, '--keyring', auth.keyring, '--id', auth.id, '--log-file=/dev/null'];
}

function parseJson<T>(cmd: string, args: string[], out: string): T {
  if (!out.trim()) return undefined as T;
  try {
    return JSON.parse(out) as T;
  } catch {
    throw new CephError(`${cmd} ${args.slice(0, 4).join(' ')}: output is not JSON: ${out.slice(0, 200)}`, [cmd, ...args], '', 0);
  }
}

/** `ceph ARGS --format json`, parsed (undefined when the command prints nothing). */
export async function ceph<T = unknown>(args: string[], auth: CephAuth, opts: ToolOptions = {}): Promise<T> {
  const argv = [...clientArgs(auth), '--connect-timeout', String(CONNECT_TIMEOUT_S), '--format', 'json', ...args];
  return parseJson<T>('ceph', args, await call('ceph', argv, opts));
}

/**
 * `rbd ARGS`; with `json` (for the commands that print something: ls, info, du, status...)
 * `--format json` is added and the output parsed. rbd refuses --format on the other commands.
 */
export async function rbd<T = unknown>(args: string[], auth: CephAuth, opts: ToolOptions & { json?: boolean } = {}): Promise<T> {
  const { json, ...tool } = opts;
  const out = await call('rbd', [...clientArgs(auth), ...(json ? ['--format', 'json'] : []), ...args], tool);
  return (json ? parseJson<T>('rbd', args, out) : undefined) as T;
}

/** A command to a daemon through its admin socket (`ceph --admin-daemon ASOK ARGS`), its JSON answer parsed. */
export async function adminSocket<T = unknown>(asok: string, args: string[]): Promise<T> {
  return parseJson<T>('ceph', args, await call('ceph', ['--admin-daemon', asok, ...args], { timeoutMs: 15_000 }));
}

/** A new random cephx secret (base64). */
export async function genKey(): Promise<string> {
  return (await call('ceph-authtool', ['--gen-print-key'])).trim();
}

/**
 * Writes a keyring file holding one entity's key (and caps, for the keyring a monitor is made
 * with). ceph-authtool creates it with mode 0600.
 */
export async function writeKeyring(path: string, entity: string, key: string, caps: Record<string, string> = {}): Promise<void> {
  const capArgs = Object.entries(caps).flatMap(([svc, cap]) => ['--cap', svc, cap]);
  await call('ceph-authtool', ['--create-keyring', path, '--name', entity, '--add-key', key, ...capArgs]);
}

/** Adds every key of `from` to the keyring `into`. */
export async function importKeyring(into: string, from: string): Promise<void> {
  await call('ceph-authtool', [into, '--import-keyring', from]);
}

/** A monmap for a new cluster: each monitor on msgr2 (3300) and msgr1 (6789) of its address. */
export async function createMonmap(path: string, fsid: string, mons: { name: string; address: string }[]): Promise<void> {
  const add = mons.flatMap((m) => ['--addv', m.name, `[v2:${m.address}:3300,v1:${m.address}:6789]`]);
  await call('monmaptool', ['--create', '--clobber', '--fsid', fsid, ...add, path]);
}

/** `ceph-mon --mkfs`: the monitor's store from the monmap and the keyring (mon. and client.admin). */
export async function mkfsMon(conf: string, id: string, monmap: string, keyring: string): Promise<void> {
  await call('ceph-mon', ['--conf', conf, '--id', id, '--mkfs', '--monmap', monmap, '--keyring', keyring]);
}

/** `ceph-osd --mkfs`: a BlueStore OSD in its data dir (its block file made there, as the conf sizes it). */
export async function mkfsOsd(conf: string, id: number, uuid: string): Promise<void> {
  await call('ceph-osd', ['--conf', conf, '--id', String(id), '--mkfs', '--osd-uuid', uuid, '--osd-objectstore', 'bluestore'], { timeoutMs: 120_000 });
}

/** The argv of a daemon in the foreground (-f: no fork, so the pid started is the daemon's; logs go to its log_file). */
export function daemonArgv(type: DaemonType, id: string, conf: string): string[] {
  return [`ceph-${type}`, '-f', '--cluster', 'ceph', '--id', id, '--conf', conf];
}

/**
 * The (type, id, conf) of a daemon's argv as daemonArgv makes it, or undefined for any other
 * process. Also while it is still `nsenter --net=NS -- <daemon argv>`, just before nsenter execs it.
 */
export function parseDaemonArgv(argv: string[]): { type: DaemonType; id: string; conf: string } | undefined {
  const args = /(?:^|\/)nsenter$/.test(argv[0] ?? '') && argv[2] === '--' ? argv.slice(3) : argv;
  const m = /(?:^|\/)ceph-(mon|mgr|osd|mds)$/.exec(args[0] ?? '');
  const at = (flag: string) => {
    const i = args.indexOf(flag);
    return i > 0 ? args[i + 1] : undefined;
  };
  const id = at('--id');
  const conf = at('--conf');
  return m && id !== undefined && conf !== undefined && args.includes('-f') ? { type: m[1] as DaemonType, id, conf } : undefined;
}
