/**
 * Request bodies to objects: JSON or YAML by content type, with the limits that keep a bad
 * request from hurting the server (size, nesting depth, YAML aliases) and duplicate-field
 * detection for fieldValidation.
 */
import YAML from 'yaml';
import { ApiError } from './errors.js';
import { findDuplicateJsonFields, findDuplicateYamlFields } from '../schema/duplicate-fields.js';
import { PROTOBUF_MEDIA_TYPE, ProtobufDecodeError, decodeProtobufBody } from './protobuf/decode.js';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;
export const MAX_NESTING_DEPTH = 256;

export type BodyFormat = 'json' | 'yaml' | 'protobuf';

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

export function bodyFormat(contentType: string | undefined): BodyFormat | undefined {
  const mt = mediaType(contentType);
  if (mt === '' || mt === 'application/json' || mt === 'application/json-patch+json' || mt === 'application/merge-patch+json' || mt === 'application/strategic-merge-patch+json')
    return 'json';
  if (mt === 'application/yaml' || mt === 'application/apply-patch+yaml' || mt === 'application/x-yaml' || mt === 'text/yaml') return 'yaml';
  if (mt === PROTOBUF_MEDIA_TYPE) return 'protobuf';
  return undefined;
}

export interface Decoded {
  value: unknown;
  /** Duplicate field paths found in the input. */
  duplicates: string[];
}

export function decodeBody(body: Buffer | undefined, contentType: string | undefined, opts: { findDuplicates: boolean }): Decoded {
  if (!body || body.length === 0) throw ApiError.badRequest('the request body is empty');
  if (body.length > MAX_BODY_BYTES) throw ApiError.tooLarge('Request entity too large: limit is 3145728');
  const format = bodyFormat(contentType);
  if (!format) throw ApiError.unsupportedMediaType(contentType ?? '');
  if (format === 'protobuf') return { value: decodeProtobuf(body, contentType), duplicates: [] };
  const text = body.toString('utf8');
  let value: unknown;
  let duplicates: string[] = [];
  if (format === 'json') {
    checkJsonDepth(text);
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw ApiError.badRequest(`error decoding request body: invalid JSON: ${(e as Error).message}`);
    }
    if (opts.findDuplicates) duplicates = findDuplicateJsonFields(text);
  } else {
    value = decodeYaml(text);
    if (opts.findDuplicates) duplicates = findDuplicateYamlFields(text);
  }
  checkValueDepth(value);
  return { value, duplicates };
}

/**
 * client-go's typed clients send built-in objects in protobuf. Kinds without a protobuf shape
 * (custom resources) are unsupported media, as upstream answers for them.
 */
function decodeProtobuf(body: Buffer, contentType: string | undefined): unknown {
  try {
    const value = decodeProtobufBody(body).object;
    checkValueDepth(value);
    return value;
  } catch (e) {
    if (!(e instanceof ProtobufDecodeError)) throw e;
    if (/^no protobuf shape/.test(e.message)) throw ApiError.unsupportedMediaType(contentType ?? '');
    throw ApiError.badRequest(`error decoding request body: protobuf: ${e.message}`);
  }
}

function decodeYaml(text: string): unknown {
  const docs = YAML.parseAllDocuments(text, { prettyErrors: false, strict: true, uniqueKeys: false });
  const real = Array.isArray(docs) ? docs.filter((d) => d.contents !== null) : [docs];
  if (real.length !== 1) throw ApiError.badRequest(`error decoding YAML: expected exactly one document, found ${real.length}`);
  const doc = real[0];
  if (doc.errors.length) throw ApiError.badRequest(`error decoding YAML: ${doc.errors[0].message}`);
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw ApiError.badRequest(`error decoding YAML: ${(e as Error).message}`);
  }
}

/** Rejects pathologically nested JSON before parsing it, without recursion. */
function checkJsonDepth(text: string) {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_NESTING_DEPTH) throw ApiError.badRequest(`error decoding request body: nesting depth exceeds the limit of ${MAX_NESTING_DEPTH}`);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

function checkValueDepth(value: unknown) {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d > MAX_NESTING_DEPTH) throw ApiError.badRequest(`error decoding request body: nesting depth exceeds the limit of ${MAX_NESTING_DEPTH}`);
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
}
