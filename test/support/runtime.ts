/**
 * Fixture for the container-runtime integration tests: checks the prerequisites (root, runc,
 * busybox-static) and fails loudly when one is missing, builds a busybox rootfs, and keeps a
 * record of everything a test makes (containers, network namespaces, cgroups, directories) so
 * cleanup() removes it all, also after a failure. Every name carries `cairn` and a run id.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeCgroup } from '../../src/agent/runtime/cgroups.js';
import { RuncRuntime } from '../../src/agent/runtime/container-runtime.js';
import { buildOciSpec, type ContainerConfig, type OciSpec } from '../../src/agent/runtime/oci-spec.js';

export const BUSYBOX = '/bin/busybox';

/** Throws a clear error unless this process can run containers here. Never skips. */
export function requireRuntimePrereqs(): void {
  if (process.getuid?.() !== 0) throw new Error('runtime tests must run as root (they create containers, cgroups and network namespaces)');
  try {
    execFileSync('runc', ['--version'], { stdio: 'pipe' });
  } catch {
    throw new Error('runc is not installed: run scripts/setup.sh (apt-get install runc)');
  }
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: run scripts/setup.sh (apt-get install busybox-static)`);
  const ldd = (() => {
    try {
      return execFileSync('ldd', [BUSYBOX], { stdio: 'pipe', encoding: 'utf8' });
    } catch (e) {
      return String((e as { stdout?: string }).stdout ?? '') + String((e as { stderr?: string }).stderr ?? '');
    }
  })();
  if (!/not a dynamic executable|statically linked/.test(ldd)) throw new Error(`${BUSYBOX} is not static: install busybox-static`);
}

/** A busybox root file system: /bin/busybox plus a symlink per applet, /etc/passwd and group. */
export function makeBusyboxRootfs(dir: string): void {
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc', 'root', 'home/user']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  execFileSync('chmod', ['0755', join(dir, 'bin/busybox')]);
  execFileSync('chmod', ['1777', join(dir, 'tmp')]);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nuser:x:1000:\nextra:x:2000:\n');
}

export class RuntimeFixture {
  readonly runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  readonly base: string;
  readonly rootfs: string;
  readonly runtime: RuncRuntime;
  /** cgroup parent of every test container. */
  readonly cgroupParent: string;
  private readonly netnses: string[] = [];
  private seq = 0;

  constructor(label: string) {
    requireRuntimePrereqs();
    this.base = mkdtempSync(join(tmpdir(), `cairn-rt-${label}-`));
    this.rootfs = join(this.base, 'rootfs');
    makeBusyboxRootfs(this.rootfs);
    this.runtime = new RuncRuntime({ dataDir: join(this.base, 'runtime') });
    this.cgroupParent = `/cairn-test-${this.runId}`;
  }

  /** A fresh container id `cairn-<run>-<name>-<n>`. */
  id(name: string): string {
    return `cairn-${this.runId}-${name}-${++this.seq}`;
  }

  /** An OCI spec over the shared rootfs with sensible test defaults. */
  spec(id: string, c: Partial<ContainerConfig> & { args: string[] }): OciSpec {
    return buildOciSpec({ rootfs: this.rootfs, cgroupsPath: `${this.cgroupParent}/${id}`, hostname: id.slice(0, 63), ...c });
  }

  bundle(id: string): string {
    const b = join(this.base, 'bundles', id);
    mkdirSync(b, { recursive: true });
    return b;
  }

  logPath(id: string): string {
    return join(this.base, 'logs', `${id}.log`);
  }

  /** Creates and starts a container; returns its id. */
  async run(name: string, c: Partial<ContainerConfig> & { args: string[] }): Promise<string> {
    const id = this.id(name);
    await this.runtime.createContainer({ id, bundleDir: this.bundle(id), spec: this.spec(id, c), logPath: this.logPath(id) });
    await this.runtime.start(id);
    return id;
  }

  /** A network namespace `cairn-test-<run>-<n>` (removed by cleanup). */
  netns(): string {
    const name = `cairn-test-${this.runId}-${this.netnses.length}`;
    execFileSync('ip', ['netns', 'add', name]);
    this.netnses.push(name);
    return name;
  }

  /** Removes every container, namespace, cgroup and directory this fixture made. */
  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    for (const c of await this.runtime.list().catch(() => [])) {
      await this.runtime.remove(c.id).catch((e) => errors.push(e));
    }
    for (const id of await this.runtime.orphans().catch(() => [] as string[])) {
      await this.runtime.runc.delete(id, { force: true }).catch((e) => errors.push(e));
    }
    for (const ns of this.netnses) {
      try {
        execFileSync('ip', ['netns', 'delete', ns], { stdio: 'pipe' });
      } catch (e) {
        errors.push(e);
      }
    }
    removeCgroup(this.cgroupParent, '/');
    rmSync(this.base, { recursive: true, force: true });
    if (errors.length) throw new AggregateError(errors, 'runtime fixture cleanup had errors');
  }
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
