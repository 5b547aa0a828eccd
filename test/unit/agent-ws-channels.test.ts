/**
 * The channel framing of exec/attach over WebSocket (v5/v4/v1, binary and base64), the error
 * channel's Status as the kubelet writes it, resize parsing, and the shim's attach framing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeResize, encodeFrame, encodeResize, FrameDecoder, FrameType, AttachProtocolError, MAX_FRAME } from '../../src/agent/runtime/attach-protocol.js';
import {
  Channel,
  decodeMessage,
  DEFAULT_PROTOCOL,
  encodeMessage,
  errorChannelPayload,
  exitCodeStatus,
  internalErrorStatus,
  negotiateProtocol,
  offeredProtocols,
  PROTOCOLS,
  ResizeDecoder,
  successStatus,
} from '../../src/agent/server/ws-channels.js';

const proto = (name: string) => PROTOCOLS.find((p) => p.name === name)!;

describe('channel protocol negotiation', () => {
  it('picks the first protocol the client offers that the server speaks', () => {
    assert.equal(negotiateProtocol(['v5.channel.k8s.io'])?.name, 'v5.channel.k8s.io');
    assert.equal(negotiateProtocol(['SPDY/3.1+portforward.k8s.io', 'v4.channel.k8s.io', 'v5.channel.k8s.io'])?.name, 'v4.channel.k8s.io');
    assert.equal(negotiateProtocol(['base64.channel.k8s.io'])?.name, 'base64.channel.k8s.io');
  });
  it('gives a client that names none the plain channel protocol, and refuses unknown ones', () => {
    assert.equal(negotiateProtocol([]), DEFAULT_PROTOCOL);
    assert.equal(DEFAULT_PROTOCOL.name, 'channel.k8s.io');
    assert.equal(negotiateProtocol(['v3.channel.k8s.io', 'x']), null);
  });
  it('reads the Sec-WebSocket-Protocol header as a list', () => {
    assert.deepEqual(offeredProtocols('v5.channel.k8s.io, v4.channel.k8s.io'), ['v5.channel.k8s.io', 'v4.channel.k8s.io']);
    assert.deepEqual(offeredProtocols(undefined), []);
  });
});

describe('channel framing', () => {
  it('prefixes binary messages with the channel byte', () => {
    const m = encodeMessage(proto('v5.channel.k8s.io'), Channel.STDOUT, Buffer.from('hi\n'));
    assert.deepEqual(m, Buffer.from([1, 0x68, 0x69, 0x0a]));
    assert.deepEqual(decodeMessage(proto('v5.channel.k8s.io'), Buffer.from([0, 0x66, 0x6f])), { channel: 0, data: Buffer.from('fo') });
  });
  it('sends base64 protocols as text with a digit channel', () => {
    const p = proto('base64.channel.k8s.io');
    assert.equal(encodeMessage(p, Channel.STDOUT, Buffer.from('\n')), '1Cg==');
    // wsstream's own example: "foo\n" on stdin.
    assert.deepEqual(decodeMessage(p, Buffer.from('0Zm9vCg==')), { channel: 0, data: Buffer.from('foo\n') });
    assert.equal(decodeMessage(p, Buffer.from('xAAAA')), null);
  });
  it('reads v5 CLOSE signals, and nothing special about 255 before v5', () => {
    assert.deepEqual(decodeMessage(proto('v5.channel.k8s.io'), Buffer.from([255, 0])), { close: 0 });
    assert.equal(decodeMessage(proto('v5.channel.k8s.io'), Buffer.from([255, 0, 1])), null);
    assert.deepEqual(decodeMessage(proto('v4.channel.k8s.io'), Buffer.from([255, 0])), { channel: 255, data: Buffer.from([0]) });
  });
  it('ignores empty messages', () => {
    assert.equal(decodeMessage(proto('v4.channel.k8s.io'), Buffer.alloc(0)), null);
  });
});

describe('resize channel', () => {
  it('reads TerminalSize JSON, split or several in one message', () => {
    const d = new ResizeDecoder();
    assert.deepEqual(d.push(Buffer.from('{"Width":80,"Height":24}')), [{ cols: 80, rows: 24 }]);
    assert.deepEqual(d.push(Buffer.from('{"Width":100,')), []);
    assert.deepEqual(d.push(Buffer.from('"Height":30}{"Width":1,"Height":2}')), [
      { cols: 100, rows: 30 },
      { cols: 1, rows: 2 },
    ]);
    assert.deepEqual(d.push(Buffer.from('{"Width":"x"}')), []);
  });
});

describe('error channel', () => {
  it('writes Success as the kubelet marshals it', () => {
    assert.equal(errorChannelPayload(proto('v5.channel.k8s.io'), successStatus())!.toString(), '{"metadata":{},"status":"Success"}');
  });
  it('writes a non-zero exit with reason NonZeroExitCode and the code as an ExitCode cause', () => {
    const s = JSON.parse(errorChannelPayload(proto('v4.channel.k8s.io'), exitCodeStatus(['sh', '-c', 'exit 3'], 3))!.toString());
    assert.deepEqual(s, {
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
  });
  it('writes internal errors with code 500', () => {
    const s = internalErrorStatus('boom');
    assert.equal(s.message, 'Internal error occurred: boom');
    assert.equal(s.reason, 'InternalError');
    assert.equal(s.code, 500);
  });
  it('sends only the message on the old protocols, and nothing on success', () => {
    assert.equal(errorChannelPayload(proto('channel.k8s.io'), successStatus()), null);
    assert.equal(errorChannelPayload(proto('channel.k8s.io'), internalErrorStatus('boom'))!.toString(), 'Internal error occurred: boom');
  });
});

describe('attach socket framing', () => {
  it('reassembles frames from arbitrary chunks', () => {
    const bytes = Buffer.concat([encodeFrame(FrameType.HELLO, '{"stdin":true}'), encodeFrame(FrameType.STDIN, Buffer.from('abc')), encodeResize(40, 132), encodeFrame(FrameType.STDIN_CLOSE)]);
    const d = new FrameDecoder();
    const frames = [];
    for (let i = 0; i < bytes.length; i += 3) frames.push(...d.push(bytes.subarray(i, i + 3)));
    assert.deepEqual(
      frames.map((f) => f.type),
      [FrameType.HELLO, FrameType.STDIN, FrameType.RESIZE, FrameType.STDIN_CLOSE],
    );
    assert.equal(frames[1].payload.toString(), 'abc');
    assert.deepEqual(decodeResize(frames[2].payload), { rows: 40, cols: 132 });
    assert.equal(frames[3].payload.length, 0);
  });
  it('refuses an oversized frame', () => {
    const head = Buffer.alloc(5);
    head.writeUInt8(FrameType.STDOUT, 0);
    head.writeUInt32BE(MAX_FRAME + 1, 1);
    assert.throws(() => new FrameDecoder().push(head), AttachProtocolError);
  });
});
