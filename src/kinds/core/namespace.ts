/** core/v1 Namespace: v1 defaults, pkg/registry/core/namespace/strategy.go, ValidateNamespace, printNamespace. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import type { KubeObject } from '../../util/object.js';
import { age, ageColumn, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';
import { asList, asObj, asStr, ensureObj, validateQualifiedName } from './helpers.js';

/** The finalizer the namespace controller removes once the namespace's content is gone. */
export const KUBERNETES_FINALIZER = 'kubernetes';

function defaults(obj: KubeObject): void {
  // Since 1.21 every namespace carries its own name as a label, so selectors can pick namespaces by name.
  if (obj.metadata.name) obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name };
  const status = ensureObj(obj, 'status');
  if (!status.phase) status.phase = 'Active';
}

function prepareForCreate(obj: KubeObject): void {
  obj.status = { phase: 'Active' };
  // Not a default: the finalizer may be removed later (through /finalize), but every namespace starts with it.
  const spec = ensureObj(obj, 'spec');
  const finalizers = asList(spec.finalizers);
  if (!finalizers.includes(KUBERNETES_FINALIZER)) spec.finalizers = [...finalizers, KUBERNETES_FINALIZER];
}

/** spec.finalizers change only through the /finalize subresource, so a plain update keeps the old ones. */
function prepareForUpdate(obj: KubeObject, old: KubeObject): void {
  const oldSpec = asObj(old.spec);
  if (oldSpec?.finalizers !== undefined) ensureObj(obj, 'spec').finalizers = oldSpec.finalizers;
  else if (asObj(obj.spec)) delete asObj(obj.spec)!.finalizers;
}

/** Upstream validateFinalizerName: qualified, and either standard ("kubernetes") or domain-prefixed. */
export function validateFinalizers(finalizers: unknown, path: FieldPath): FieldError[] {
  return asList(finalizers).flatMap((f, i) => {
    const name = asStr(f);
    const errs = validateQualifiedName(name, path.index(i));
    if (!name.includes('/') && name !== KUBERNETES_FINALIZER)
      errs.push(fieldErr.invalid(path.index(i), name, 'name is neither a standard finalizer name nor is it fully qualified'));
    return errs;
  });
}

export const namespace: KindDefinition = {
  group: '',
  version: 'v1',
  kind: 'Namespace',
  listKind: 'NamespaceList',
  plural: 'namespaces',
  singular: 'namespace',
  namespaced: false,
  shortNames: ['ns'],
  schemaName: 'io.k8s.api.core.v1.Namespace',
  nameFormat: 'label',
  statusSubresource: true,
  tracksGeneration: false,
  fieldSelectors: { 'status.phase': (o) => asStr(asObj(o.status)?.phase) },
  printer: {
    columns: [nameColumn, { name: 'Status', type: 'string', description: 'The lifecycle phase: Active, or Terminating while being deleted.', priority: 0 }, ageColumn],
    cells: (obj, now) => [obj.metadata.name, asStr(asObj(obj.status)?.phase), age(obj.metadata.creationTimestamp, now)],
  },
  strategy: {
    defaults,
    prepareForCreate,
    prepareForUpdate,
    // A namespace with spec.finalizers stays (Terminating) until the namespace controller has emptied it.
    retainOnDelete: (obj) => asList(asObj(obj.spec)?.finalizers).length > 0,
    markDeleting: (obj) => {
      ensureObj(obj, 'status').phase = 'Terminating';
    },
    validate: (obj) => validateFinalizers(asObj(obj.spec)?.finalizers, FieldPath.root('spec').child('finalizers')),
    validateStatusUpdate: (obj) => {
      const phase = asObj(obj.status)?.phase;
      return phase === undefined || phase === 'Active' || phase === 'Terminating'
        ? []
        : [fieldErr.notSupported(FieldPath.root('status').child('phase'), phase, ['Active', 'Terminating'])];
    },
  },
};
