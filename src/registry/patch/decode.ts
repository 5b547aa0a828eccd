/**
 * Decoding of PATCH request bodies. A body that is not valid JSON (or YAML for apply) is the
 * client's fault and becomes 400 BadRequest, as kube-apiserver answers.
 */
import { parse as parseYaml } from 'yaml';
import { ApiError } from '../../api/errors.js';

/** Parses a JSON patch body (JSON Patch, merge patch or strategic merge patch). */
export function decodeJsonBody(body: Buffer | string): unknown {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw ApiError.badRequest(`error decoding patch: ${(e as Error).message}`);
  }
}

/** Parses an apply configuration (application/apply-patch+yaml; JSON is valid YAML). */
export function decodeApplyBody(body: Buffer | string): unknown {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  try {
    // YAML 1.2 core schema, like sigs.k8s.io/yaml; duplicate keys are an error upstream too.
    return parseYaml(text, { uniqueKeys: true }) ?? {};
  } catch (e) {
    throw ApiError.badRequest(`error decoding YAML: ${(e as Error).message}`);
  }
}
