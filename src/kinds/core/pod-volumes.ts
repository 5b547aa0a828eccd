/** A pod's volumes: upstream's SetDefaults_Volume (and nested sources) and ValidateVolumes. */
import { type FieldError, type FieldPath, fieldErr } from '../../registry/field-errors.js';
import { asObj, asObjList, asStr, isConfigMapKey, invalidEach, type Obj, requiredWith, setDefault, validateDNSLabel, validateEnum } from './helpers.js';
import { checkQuantity } from './quantity.js';

/** Volume source fields, in the order upstream's validateVolumeSource checks them (the second one found is reported). */
export const POD_VOLUME_SOURCES = [
  'hostPath', 'emptyDir', 'gitRepo', 'awsElasticBlockStore', 'gcePersistentDisk', 'secret', 'nfs', 'iscsi', 'glusterfs', 'flocker',
  'persistentVolumeClaim', 'rbd', 'cinder', 'cephfs', 'quobyte', 'downwardAPI', 'fc', 'flexVolume', 'configMap', 'azureFile',
  'vsphereVolume', 'photonPersistentDisk', 'portworxVolume', 'azureDisk', 'projected', 'scaleIO', 'storageos', 'csi', 'ephemeral', 'image',
] as const;

/** 0644: the mode of files projected from secrets, config maps and the downward API. */
const DEFAULT_MODE = 0o644;

/** SetDefaults_Volume: a volume without a source is an emptyDir; projected files get mode 0644. */
export function defaultVolume(v: Obj): void {
  if (!POD_VOLUME_SOURCES.some((s) => v[s] !== undefined && v[s] !== null)) v.emptyDir = {};
  for (const s of ['secret', 'configMap', 'downwardAPI', 'projected']) {
    const src = asObj(v[s]);
    if (src) setDefault(src, 'defaultMode', DEFAULT_MODE);
  }
  const hostPath = asObj(v.hostPath);
  if (hostPath) setDefault(hostPath, 'type', '');
  for (const p of asObjList(asObj(v.projected)?.sources)) {
    const token = asObj(p.serviceAccountToken);
    if (token) setDefault(token, 'expirationSeconds', 3600);
  }
  for (const item of asObjList(asObj(v.downwardAPI)?.items)) {
    const ref = asObj(item.fieldRef);
    if (ref) setDefault(ref, 'apiVersion', 'v1');
  }
}

/** Projected file paths: relative, no '..' element (upstream validateLocalDescendingPath). */
function validateItemPath(p: string, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!p) return [fieldErr.required(path)];
  if (p.startsWith('/')) errs.push(fieldErr.invalid(path, p, 'must be a relative path'));
  if (p.split('/').includes('..')) errs.push(fieldErr.invalid(path, p, "must not contain '..'"));
  return errs;
}

function validateMode(mode: unknown, path: FieldPath): FieldError[] {
  if (mode === undefined || mode === null) return [];
  return typeof mode === 'number' && Number.isInteger(mode) && mode >= 0 && mode <= 0o777
    ? []
    : [fieldErr.invalid(path, mode, 'must be a number between 0 and 0777 (octal), both inclusive')];
}

function validateKeyToPaths(items: unknown, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  asObjList(items).forEach((it, i) => {
    const ip = path.index(i);
    errs.push(...requiredWith(it.key, ip.child('key'), (k, p) => invalidEach(isConfigMapKey(k), p, k)));
    errs.push(...validateItemPath(asStr(it.path), ip.child('path')));
    errs.push(...validateMode(it.mode, ip.child('mode')));
  });
  return errs;
}

/** The per-source checks for the sources Cairn can run; others are accepted as given. */
function validateSource(kind: string, src: Obj, path: FieldPath): FieldError[] {
  switch (kind) {
    case 'hostPath':
      return [
        ...requiredWith(src.path, path.child('path'), () => []),
        ...validateEnum(src.type, path.child('type'), ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'], false),
      ];
    case 'emptyDir': {
      const errs: FieldError[] = [];
      if (src.sizeLimit !== undefined) {
        const v = checkQuantity(src.sizeLimit, path.child('sizeLimit'), errs);
        if (v < 0) errs.push(fieldErr.forbidden(path.child('sizeLimit'), 'SizeLimit field must be a valid resource quantity'));
      }
      return [...errs, ...validateEnum(src.medium, path.child('medium'), ['', 'Memory', 'HugePages'], false)];
    }
    case 'secret':
      return [...requiredWith(src.secretName, path.child('secretName'), () => []), ...validateKeyToPaths(src.items, path.child('items')), ...validateMode(src.defaultMode, path.child('defaultMode'))];
    case 'configMap':
      return [...requiredWith(src.name, path.child('name'), () => []), ...validateKeyToPaths(src.items, path.child('items')), ...validateMode(src.defaultMode, path.child('defaultMode'))];
    case 'persistentVolumeClaim':
      return requiredWith(src.claimName, path.child('claimName'), () => []);
    case 'nfs':
      return [
        ...requiredWith(src.server, path.child('server'), () => []),
        ...requiredWith(src.path, path.child('path'), (p, fp) => (p.startsWith('/') ? [] : [fieldErr.invalid(fp, p, 'must be an absolute path')])),
      ];
    case 'downwardAPI':
      return asObjList(src.items).flatMap((it, i) => validateItemPath(asStr(it.path), path.child('items').index(i).child('path')));
    case 'projected':
      return validateMode(src.defaultMode, path.child('defaultMode'));
    case 'csi':
      return requiredWith(src.driver, path.child('driver'), () => []);
    case 'image':
      return requiredWith(src.reference, path.child('reference'), () => []);
    default:
      return [];
  }
}

/** Upstream ValidateVolumes; returns the errors and the names of valid volumes (mounts must reference one). */
export function validateVolumes(volumes: unknown, path: FieldPath): { errs: FieldError[]; names: Set<string> } {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  asObjList(volumes).forEach((v, i) => {
    const ip = path.index(i);
    const el: FieldError[] = [];
    let n = 0;
    for (const kind of POD_VOLUME_SOURCES) {
      const src = asObj(v[kind]);
      if (!src) continue;
      if (n++ > 0) el.push(fieldErr.forbidden(ip.child(kind), 'may not specify more than 1 volume type'));
      else el.push(...validateSource(kind, src, ip.child(kind)));
    }
    if (n === 0) el.push(fieldErr.required(ip, 'must specify a volume type'));
    const name = asStr(v.name);
    if (!name) el.push(fieldErr.required(ip.child('name')));
    else el.push(...validateDNSLabel(name, ip.child('name')));
    if (names.has(name)) el.push(fieldErr.duplicate(ip.child('name'), name));
    if (el.length === 0) names.add(name);
    errs.push(...el);
  });
  return { errs, names };
}
