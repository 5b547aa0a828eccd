/**
 * `kubectl logs` options on the agent: the query as the kubelet reads it, and the CRI log reader
 * (tail over partial lines, since, timestamps, limitBytes, follow across the shim's rotation).
 */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ContainerLogStream, fixedTimestamp, LogFileError, parseCriPiece } from '../../src/agent/server/container-logs.js';
import { LogOptionsError, parseLogOptions, rfc3339Nanos, type LogOptions } from '../../src/agent/server/log-options.js';
import { RotatingLogFile, rotatedLogPath } from '../../src/agent/runtime/rotating-log.js';

const q = (s: string) => new URLSearchParams(s);
const base: LogOptions = { follow: false, previous: false, timestamps: false, tailLines: -1, limitBytes: -1 };

describe('log options from the query', () => {
  it('defaults to everything, no follow', () => {
    assert.deepEqual(parseLogOptions(q('')), base);
  });
  it('reads booleans as Go does and numbers strictly', () => {
    const o = parseLogOptions(q('follow=true&previous=1&timestamps=T&tailLines=10&limitBytes=5'));
    assert.deepEqual(o, { ...base, follow: true, previous: true, timestamps: true, tailLines: 10, limitBytes: 5 });
    assert.throws(() => parseLogOptions(q('follow=yes')), (e) => e instanceof LogOptionsError && e.httpStatus === 400);
    assert.throws(() => parseLogOptions(q('tailLines=1x')), (e) => e instanceof LogOptionsError && e.httpStatus === 400);
  });
  it('answers invalid options as the kubelet does (422)', () => {
    for (const bad of ['tailLines=-1', 'limitBytes=0', 'sinceSeconds=0', 'sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z']) {
      assert.throws(() => parseLogOptions(q(bad)), (e) => e instanceof LogOptionsError && e.httpStatus === 422, bad);
    }
  });
  it('turns sinceSeconds into a time, and the later of the two limits wins', () => {
    const now = Date.parse('2024-01-01T00:01:00Z');
    assert.equal(parseLogOptions(q('sinceSeconds=60'), now).sinceNanos, rfc3339Nanos('2024-01-01T00:00:00Z'));
    assert.equal(parseLogOptions(q('sinceTime=2024-01-01T00:00:30Z'), now).sinceNanos, rfc3339Nanos('2024-01-01T00:00:30Z'));
  });
  it('parses RFC 3339 to nanoseconds', () => {
    assert.equal(rfc3339Nanos('1970-01-01T00:00:01.5Z'), 1_500_000_000n);
    assert.equal(rfc3339Nanos('1970-01-01T01:00:00.000000001+01:00'), 1n);
    assert.equal(rfc3339Nanos('yesterday'), undefined);
  });
});

describe('CRI lines', () => {
  it('splits the fields and prints the time with a fixed nine-digit fraction', () => {
    assert.deepEqual(parseCriPiece(Buffer.from('2024-01-01T00:00:00.5Z stderr P  a b')), { timestamp: '2024-01-01T00:00:00.5Z', partial: true, content: Buffer.from(' a b') });
    assert.deepEqual(parseCriPiece(Buffer.from('2024-01-01T00:00:00Z stdout F')), { timestamp: '2024-01-01T00:00:00Z', partial: false, content: Buffer.alloc(0) });
    assert.equal(parseCriPiece(Buffer.from('2024-01-01T00:00:00Z other F x')), null);
    assert.equal(fixedTimestamp('2024-01-01T00:00:02.5Z'), '2024-01-01T00:00:02.500000000Z');
    assert.equal(fixedTimestamp('2024-01-01T00:00:02Z'), '2024-01-01T00:00:02.000000000Z');
  });
});

const LOG = [
  '2024-01-01T00:00:01.000000001Z stdout F one',
  '2024-01-01T00:00:02.5Z stderr F two',
  '2024-01-01T00:00:03.000000000Z stdout P thr',
  '2024-01-01T00:00:03.100000000Z stdout P e-',
  '2024-01-01T00:00:03.200000000Z stdout F x',
  'not a CRI line',
  '2024-01-01T00:00:04.000000000Z stdout F four',
  '',
].join('\n');

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}

describe('reading a container log', () => {
  let dir: string;
  let path: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-test-logs-'));
    path = join(dir, '0.log');
    writeFileSync(path, LOG);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const read = async (o: Partial<LogOptions>, file = path) => {
    const out = new Collect();
    const s = await ContainerLogStream.open(file, { ...base, ...o });
    await s.pipeTo(out, { running: async () => false }, new AbortController().signal);
    return out.text;
  };

  it('joins partial pieces and skips lines that do not parse', async () => {
    assert.equal(await read({}), 'one\ntwo\nthre-x\nfour\n');
  });
  it('counts a line split into pieces once for tailLines', async () => {
    assert.equal(await read({ tailLines: 3 }), 'thre-x\nfour\n'); // the unparseable line counts, as upstream
    assert.equal(await read({ tailLines: 4 }), 'two\nthre-x\nfour\n');
    assert.equal(await read({ tailLines: 100 }), 'one\ntwo\nthre-x\nfour\n');
    assert.equal(await read({ tailLines: 0 }), '');
  });
  it('prefixes each line (not each piece) with its timestamp', async () => {
    assert.equal(
      await read({ timestamps: true, tailLines: 3 }),
      '2024-01-01T00:00:03.000000000Z thre-x\n2024-01-01T00:00:04.000000000Z four\n',
    );
  });
  it('skips pieces older than since', async () => {
    assert.equal(await read({ sinceNanos: rfc3339Nanos('2024-01-01T00:00:03.1Z') }), 'e-x\nfour\n');
  });
  it('cuts the output at limitBytes, timestamps included', async () => {
    assert.equal(await read({ limitBytes: 6 }), 'one\ntw');
    assert.equal(await read({ limitBytes: 12, timestamps: true }), '2024-01-01T0');
  });
  it('fails before any output when the file is missing', async () => {
    await assert.rejects(read({}, join(dir, 'missing.log')), LogFileError);
  });
  it('follows new lines, across a rotation, until the container stops', async () => {
    const f = join(dir, '1.log');
    writeFileSync(f, '2024-01-01T00:00:01Z stdout F first\n');
    let running = true;
    const out = new Collect();
    const s = await ContainerLogStream.open(f, { ...base, follow: true, tailLines: 1 });
    const done = s.pipeTo(out, { running: async () => running }, new AbortController().signal);
    const until = async (text: string) => {
      for (let i = 0; i < 200 && out.text !== text; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(out.text, text);
    };
    await until('first\n');
    appendFileSync(f, '2024-01-01T00:00:02Z stdout F second\n');
    await until('first\nsecond\n');
    // The shim's rotation: rename, then a new file.
    appendFileSync(f, '2024-01-01T00:00:03Z stdout F last-of-old\n');
    renameSync(f, rotatedLogPath(f));
    writeFileSync(f, '2024-01-01T00:00:04Z stdout F new-file\n');
    await until('first\nsecond\nlast-of-old\nnew-file\n');
    appendFileSync(f, '2024-01-01T00:00:05Z stdout F after-exit\n');
    running = false;
    await done;
    assert.equal(out.text, 'first\nsecond\nlast-of-old\nnew-file\nafter-exit\n');
  });
  it('follows the shim\'s own rotation (whole lines, one rotated file kept)', async () => {
    const f = join(dir, '2.log');
    const line = (n: number) => Buffer.from(`2024-01-01T00:00:0${n}Z stdout F line-${n}\n`);
    const log = new RotatingLogFile(f, line(1).length * 2);
    log.write(line(1));
    let running = true;
    const out = new Collect();
    const s = await ContainerLogStream.open(f, { ...base, follow: true });
    const done = s.pipeTo(out, { running: async () => running }, new AbortController().signal);
    for (let n = 2; n <= 7; n++) {
      log.write(line(n));
      await new Promise((r) => setTimeout(r, 30));
    }
    log.close();
    running = false;
    await done;
    assert.equal(out.text, [1, 2, 3, 4, 5, 6, 7].map((n) => `line-${n}\n`).join(''));
    // Two lines per file: the current file and one rotated file remain.
    assert.equal(readFileSync(f, 'utf8'), line(7).toString());
    assert.equal(readFileSync(rotatedLogPath(f), 'utf8'), `${line(5)}${line(6)}`);
    assert.equal(existsSync(`${f}.2`), false);
  });
  it('stops following when the client goes away', async () => {
    const out = new Collect();
    const ac = new AbortController();
    const s = await ContainerLogStream.open(path, { ...base, follow: true });
    const done = s.pipeTo(out, { running: async () => true }, ac.signal);
    setTimeout(() => ac.abort(), 100);
    await done;
    assert.equal(out.text, 'one\ntwo\nthre-x\nfour\n');
  });
});
