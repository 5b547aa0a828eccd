/** Typed failures of the SPDY layer. */

/** The peer broke the framing or the protocol: the session answers with GOAWAY and closes. */
export class SpdyProtocolError extends Error {
  override readonly name = 'SpdyProtocolError';
}

/** The peer reset a stream (RST_STREAM); `status` is the SPDY status code. */
export class SpdyStreamResetError extends Error {
  override readonly name = 'SpdyStreamResetError';
  constructor(
    readonly streamId: number,
    readonly status: number,
  ) {
    super(`stream ${streamId} reset by peer (status ${status})`);
  }
}

/** The session ended (connection closed, GOAWAY, idle timeout) while the stream was still open. */
export class SpdySessionClosedError extends Error {
  override readonly name = 'SpdySessionClosedError';
}
