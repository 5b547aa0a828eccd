/**
 * Duplicate keys in a request body, which JSON.parse and YAML loading would silently collapse
 * (last one wins). fieldValidation=Strict rejects them and Warn reports them, with upstream's
 * path form: `duplicate field "spec.replicas"`.
 */
import { parseDocument, isMap, isSeq, isScalar, type Node } from 'yaml';

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** Paths of keys that appear more than once in the same object of a JSON text (assumed well-formed). */
export function findDuplicateJsonFields(text: string): string[] {
  const dups: string[] = [];
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const str = (): string => {
    const start = i;
    for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      for (ws(); text[i] !== '}' && i < text.length; ws()) {
        const key = str();
        if (seen.has(key)) dups.push(join(path, key));
        seen.add(key);
        ws();
        i++; // ':'
        value(join(path, key));
        ws();
        if (text[i] === ',') i++;
        ws();
      }
      i++;
    } else if (c === '[') {
      i++;
      for (let n = 0; (ws(), text[i] !== ']' && i < text.length); n++) {
        value(`${path}[${n}]`);
        ws();
        if (text[i] === ',') i++;
      }
      i++;
    } else if (c === '"') {
      str();
    } else {
      while (i < text.length && !',}] \t\r\n'.includes(text[i])) i++;
    }
  };
  value('');
  return dups;
}

/** The same for YAML (the first document), walking the parsed node tree before keys are merged. */
export function findDuplicateYamlFields(text: string): string[] {
  const dups: string[] = [];
  const doc = parseDocument(text, { uniqueKeys: false });
  const walk = (n: Node | null | undefined, path: string): void => {
    if (isMap(n)) {
      const seen = new Set<string>();
      for (const pair of n.items) {
        const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
        if (seen.has(key)) dups.push(join(path, key));
        seen.add(key);
        walk(pair.value as Node, join(path, key));
      }
    } else if (isSeq(n)) {
      n.items.forEach((x, i) => walk(x as Node, `${path}[${i}]`));
    }
  };
  walk(doc.contents as Node, '');
  return dups;
}

/** Duplicate-key paths of a body by its media type (YAML for *yaml types, else JSON). */
export function findDuplicateFields(text: string, contentType = 'application/json'): string[] {
  return /yaml/i.test(contentType) ? findDuplicateYamlFields(text) : findDuplicateJsonFields(text);
}

export const duplicateFieldMessage = (path: string) => `duplicate field "${path}"`;
