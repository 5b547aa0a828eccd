/**
 * SPDY/3.1 frames as values: the types, flags and status codes of the SPDY/3 draft, in the shape
 * moby/spdystream (the library kubectl and the kubelet speak through) reads and writes them.
 */
export const SPDY_VERSION = 3;

/** Control frame types (SPDY/3 section 2.6). Type 5 (NOOP) was dropped in SPDY/3. */
export const ControlType = {
  SynStream: 1,
  SynReply: 2,
  RstStream: 3,
  Settings: 4,
  Ping: 6,
  GoAway: 7,
  Headers: 8,
  WindowUpdate: 9,
} as const;

/** FLAG_FIN on DATA, SYN_STREAM, SYN_REPLY and HEADERS: the sender's half of the stream is done. */
export const FLAG_FIN = 0x01;
/** FLAG_UNIDIRECTIONAL on SYN_STREAM: the recipient may not send on this stream. */
export const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes. */
export const RstStatus = {
  ProtocolError: 1,
  InvalidStream: 2,
  RefusedStream: 3,
  UnsupportedVersion: 4,
  Cancel: 5,
  InternalError: 6,
  FlowControlError: 7,
  StreamInUse: 8,
  StreamAlreadyClosed: 9,
  InvalidCredentials: 10,
  FrameTooLarge: 11,
} as const;

/** GOAWAY status codes. */
export const GoAwayStatus = { Ok: 0, ProtocolError: 1, InternalError: 2 } as const;

/** Largest DATA payload a frame can carry (24-bit length). */
export const MAX_FRAME_PAYLOAD = 0xffffff;

/** A header block: lower-case names, each with one or more values (NUL-joined on the wire). */
export type HeaderBlock = Record<string, string[]>;

export interface DataFrame {
  type: 'data';
  streamId: number;
  flags: number;
  data: Buffer;
}
export interface SynStreamFrame {
  type: 'syn_stream';
  streamId: number;
  associatedStreamId: number;
  /** 0 (highest) to 7. */
  priority: number;
  slot: number;
  flags: number;
  headers: HeaderBlock;
}
export interface SynReplyFrame {
  type: 'syn_reply';
  streamId: number;
  flags: number;
  headers: HeaderBlock;
}
export interface RstStreamFrame {
  type: 'rst_stream';
  streamId: number;
  status: number;
}
export interface SettingsEntry {
  flags: number;
  id: number;
  value: number;
}
export interface SettingsFrame {
  type: 'settings';
  flags: number;
  entries: SettingsEntry[];
}
export interface PingFrame {
  type: 'ping';
  id: number;
}
export interface GoAwayFrame {
  type: 'goaway';
  lastGoodStreamId: number;
  status: number;
}
export interface HeadersFrame {
  type: 'headers';
  streamId: number;
  flags: number;
  headers: HeaderBlock;
}
export interface WindowUpdateFrame {
  type: 'window_update';
  streamId: number;
  delta: number;
}

export type Frame =
  | DataFrame
  | SynStreamFrame
  | SynReplyFrame
  | RstStreamFrame
  | SettingsFrame
  | PingFrame
  | GoAwayFrame
  | HeadersFrame
  | WindowUpdateFrame;

/** A header block's first value for a name (names are compared lower-case, as on the wire). */
export function headerValue(headers: HeaderBlock, name: string): string | undefined {
  return headers[name.toLowerCase()]?.[0];
}
