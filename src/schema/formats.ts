/**
 * String formats checked by CRD validation (the cheap ones upstream's format registry knows).
 * Unknown formats pass, as upstream.
 */
import { isIPv4, isIPv6, isValidCIDR } from '../registry/validation.js';

const dateTimeRe = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const dateRe = /^\d{4}-\d{2}-\d{2}$/;
const uuidRe = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;
const hostnameRe = /^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$/;
const base64Re = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const durationRe = /^([+-]?(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$|^0$/;

const CHECKS: Record<string, (v: string) => boolean> = {
  'date-time': (v) => dateTimeRe.test(v) && !Number.isNaN(Date.parse(v.replace(' ', 'T'))),
  date: (v) => dateRe.test(v) && !Number.isNaN(Date.parse(v)),
  uuid: (v) => uuidRe.test(v),
  hostname: (v) => v.length <= 253 && hostnameRe.test(v),
  ipv4: isIPv4,
  ipv6: isIPv6,
  cidr: isValidCIDR,
  byte: (v) => base64Re.test(v),
  duration: (v) => durationRe.test(v),
  email: (v) => /^[^@\s]+@[^@\s]+$/.test(v),
};

/** Whether `v` is valid for `format`; formats Cairn does not check are valid. */
export function matchesFormat(format: string, v: string): boolean {
  const check = CHECKS[format];
  return !check || check(v);
}
