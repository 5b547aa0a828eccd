import type { IKeyValue } from 'etcd3';
import { prefixRangeEnd } from '../keys.js';
import type { KeyValue } from '../types.js';

/**
 * Maps Store keys to etcd keys under a namespace, so several clusters (or tests) can share one
 * etcd. A non-empty namespace is made to end with "/": otherwise the cluster "/a" would see the
 * keys of a cluster "/ab" (the etcd key of "/x" under "/a" becomes "/a//x", which is harmless).
 */
export class KeyCodec {
  readonly namespace: string;
  private readonly namespaceBytes: number;

  constructor(namespace: string) {
    this.namespace = namespace === '' || namespace.endsWith('/') ? namespace : `${namespace}/`;
    this.namespaceBytes = Buffer.byteLength(this.namespace);
  }

  encode(key: string): Buffer {
    return Buffer.from(this.namespace + key);
  }

  /** etcd's range start for keys >= `key`; a zero byte stands for "from the very first key". */
  rangeStart(key: string): Buffer {
    const start = this.encode(key);
    return start.length > 0 ? start : Buffer.from([0]);
  }

  /** etcd's exclusive range_end for every key starting with the (normalized) prefix. */
  rangeEnd(prefix: string): Buffer {
    // A zero byte as range_end means "to the end of the keyspace" in etcd.
    return prefixRangeEnd(this.encode(prefix)) ?? Buffer.from([0]);
  }

  decodeKey(key: Buffer): string {
    return key.subarray(this.namespaceBytes).toString();
  }

  decode(kv: IKeyValue): KeyValue {
    return {
      key: this.decodeKey(kv.key),
      value: kv.value,
      createRevision: Number(kv.create_revision),
      modRevision: Number(kv.mod_revision),
    };
  }
}
