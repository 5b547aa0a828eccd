// Parser for the ifupdown2 `interfaces` syntax, as far as Cairn renders it: `auto` lines,
// `iface NAME [inet|inet6 METHOD]` stanzas and their indented `attribute value...` lines.
// `source` / `source-directory` lines (which pull in the host's own files) are skipped: the lab
// applies only what Cairn rendered. Anything else is an error with its line number, so a
// rendering the lab does not understand is never half-applied.
import { InterfacesError } from './errors.js';

export interface IfaceStanza {
  name: string;
  /** `inet static`, `inet loopback`, `inet manual`, or '' when the stanza names none. */
  method: string;
  /** Attributes in file order; an attribute may repeat (several `address` lines). */
  attrs: { key: string; value: string; line: number }[];
  line: number;
}

export interface InterfacesFile {
  /** Interfaces named on `auto` (or `allow-auto`) lines, in order. */
  auto: string[];
  ifaces: IfaceStanza[];
}

const STANZA_KEYWORDS = new Set(['auto', 'allow-auto', 'allow-hotplug', 'iface', 'source', 'source-directory', 'mapping']);

export function parseInterfaces(text: string, source = 'interfaces'): InterfacesFile {
  const out: InterfacesFile = { auto: [], ifaces: [] };
  let current: IfaceStanza | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!.replace(/#.*$/, '');
    if (!raw.trim()) continue;
    const indented = /^\s/.test(raw);
    const words = raw.trim().split(/\s+/);
    const key = words[0]!;
    const fail = (msg: string): never => {
      throw new InterfacesError(`${source} line ${lineNo}: ${msg}`);
    };
    if (!indented || STANZA_KEYWORDS.has(key)) {
      current = undefined;
      switch (key) {
        case 'auto':
        case 'allow-auto':
          out.auto.push(...words.slice(1));
          break;
        case 'allow-hotplug':
          // Hot-plugged NICs are brought up when they appear; in the lab they all exist already.
          out.auto.push(...words.slice(1));
          break;
        case 'source':
        case 'source-directory':
          break;
        case 'iface': {
          const name = words[1] ?? fail('iface without a name');
          if (out.ifaces.some((s) => s.name === name)) fail(`interface ${name} is defined twice`);
          current = { name, method: words.slice(2).join(' '), attrs: [], line: lineNo };
          out.ifaces.push(current);
          break;
        }
        default:
          fail(`unsupported statement "${key}"`);
      }
      continue;
    }
    if (!current) fail(`attribute "${key}" outside an iface stanza`);
    current!.attrs.push({ key, value: words.slice(1).join(' '), line: lineNo });
  }
  return out;
}
