/**
 * Serves one exec or attach session over an upgraded WebSocket, as the kubelet's remotecommand
 * server does: an empty message on the lowest writable channel once the streams are up, the
 * process's output on stdout/stderr, the client's input to stdin (and its v5 CLOSE to the end of
 * input), resizes to the terminal, and when the process has ended and its output is sent, the
 * outcome on the error channel, then a normal close. A client that goes away ends the session.
 */
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { RawData, WebSocket } from 'ws';
import type { Logger } from '../../client/log.js';
import type { SessionEnd, StreamSession } from '../runtime/exec-stream.js';
import { errorText } from '../../util/log.js';
import {
  Channel,
  type ChannelProtocol,
  type ChannelStatus,
  decodeMessage,
  encodeMessage,
  errorChannelPayload,
  exitCodeStatus,
  internalErrorStatus,
  ResizeDecoder,
  successStatus,
} from './ws-channels.js';

/** The streams the client asked for (the kubelet's remotecommand Options). */
export interface StreamRequest {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

const EMPTY = Buffer.alloc(0);

export async function serveRemoteCommand(
  ws: WebSocket,
  proto: ChannelProtocol,
  req: StreamRequest,
  start: () => Promise<StreamSession>,
  /** The exec'd command (for the exit status's message); null for attach. */
  command: string[] | null,
  log?: Logger,
): Promise<void> {
  const send = (channel: number, data: Buffer) =>
    new Promise<void>((resolve) => {
      if (ws.readyState !== ws.OPEN) return resolve();
      ws.send(encodeMessage(proto, channel, data), { binary: !proto.base64 }, () => resolve());
    });
  const finish = async (status: ChannelStatus) => {
    const payload = errorChannelPayload(proto, status);
    if (payload) await send(Channel.ERROR, payload);
    if (ws.readyState === ws.OPEN) ws.close(1000);
  };

  // Messages that arrive while the session starts wait for it.
  ws.pause();
  await send(req.stdout ? Channel.STDOUT : req.stderr ? Channel.STDERR : Channel.ERROR, EMPTY);
  let session: StreamSession;
  try {
    session = await start();
  } catch (e) {
    log?.({ level: 'warn', msg: 'stream session failed to start', error: errorText(e) });
    await finish(internalErrorStatus(`${command ? 'error executing command in container' : 'error attaching to container'}: ${errorText(e)}`));
    return;
  }
  const resizes = new ResizeDecoder();
  let clientGone = false;
  ws.on('message', (raw: RawData) => {
    const m = decodeMessage(proto, toBuffer(raw));
    if (!m) return;
    if ('close' in m) {
      if (m.close === Channel.STDIN) session.closeStdin();
    } else if (m.channel === Channel.STDIN && req.stdin && session.stdin) {
      // A process slow to read its input slows the client down.
      if (!session.stdin.write(m.data)) {
        ws.pause();
        session.stdin.once('drain', () => ws.resume());
      }
    } else if (m.channel === Channel.RESIZE && session.tty) {
      for (const size of resizes.push(m.data)) session.resize(size);
    }
  });
  ws.on('close', () => {
    clientGone = true;
    session.close();
  });
  ws.resume();
  if (ws.readyState !== ws.OPEN) session.close();

  const pump = async (src: Readable | null, channel: number, wanted: boolean) => {
    if (!src) return;
    try {
      if (!wanted) {
        src.resume();
        await finished(src);
        return;
      }
      for await (const chunk of src) if (!clientGone) await send(channel, chunk as Buffer);
    } catch {
      /* the session's stream failed: its outcome tells why */
    }
  };
  const [end] = await Promise.all([session.done, pump(session.stdout, Channel.STDOUT, req.stdout), pump(session.stderr, Channel.STDERR, req.stderr)]);
  await finish(outcome(end, command));
}

function outcome(end: SessionEnd, command: string[] | null): ChannelStatus {
  if (end.error !== undefined) return internalErrorStatus(`${command ? 'error executing command in container' : 'error attaching to container'}: ${end.error}`);
  if (command && end.exitCode) return exitCodeStatus(command, end.exitCode);
  return successStatus();
}

function toBuffer(raw: RawData): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  if (Array.isArray(raw)) return Buffer.concat(raw);
  return Buffer.from(raw);
}
