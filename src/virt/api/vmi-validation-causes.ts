/**
 * The refusals KubeVirt's validating webhooks return: metav1.StatusCause entries (a type, a
 * message that already names the field, the field path), turned into the 422 the API server
 * answers when a webhook denies a request.
 */
import { ApiError } from '../../api/errors.js';
import type { FieldErrorType } from '../../registry/field-errors.js';

export interface Cause {
  type: Extract<FieldErrorType, 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueNotSupported' | 'FieldValueDuplicate' | 'FieldValueNotFound'>;
  message: string;
  /** Empty for the few causes KubeVirt gives without a field. */
  field: string;
}

export const invalid = (field: string, message: string): Cause => ({ type: 'FieldValueInvalid', field, message });
export const required = (field: string, message: string): Cause => ({ type: 'FieldValueRequired', field, message });
export const notSupported = (field: string, message: string): Cause => ({ type: 'FieldValueNotSupported', field, message });
export const duplicate = (field: string, message: string): Cause => ({ type: 'FieldValueDuplicate', field, message });

/**
 * What kube-apiserver makes of a webhook's denial (webhookerrors.ToStatusErr over KubeVirt's
 * ToAdmissionResponse): 422 Invalid, the messages joined by ", " after `admission webhook "NAME"
 * denied the request: `, the causes in the details — and no kind or name, so kubectl prints
 * `The request is invalid:` and one `field: message` line per cause.
 */
export function webhookDenied(webhook: string, causes: Cause[]): ApiError {
  const message = `admission webhook "${webhook}" denied the request: ${causes.map((c) => c.message).join(', ')}`;
  return new ApiError(422, 'Invalid', message, {
    causes: causes.map((c) => ({ reason: c.type, message: c.message, ...(c.field ? { field: c.field } : {}) })),
  });
}
