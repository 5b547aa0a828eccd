/**
 * API errors as Kubernetes `Status` objects (k8s.io/apimachinery/pkg/api/errors): every failure
 * an API client sees is one of these, with upstream's reason, code and message form.
 */
import { type FieldError, fieldErrorBody, fieldErrorText } from '../registry/field-errors.js';

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** A group and resource, used in messages as `deployments.apps` (core: just `pods`). */
export interface GroupResource {
  group: string;
  resource: string;
}

export function qualifiedResource(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toStatus(): Status {
    const s: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) s.details = omitEmptyGroup(this.details);
    return s;
  }

  static notFound(gr: GroupResource, name: string): ApiError {
    return new ApiError(404, 'NotFound', `${qualifiedResource(gr)} "${name}" not found`, {
      name,
      group: gr.group,
      kind: gr.resource,
    });
  }

  static alreadyExists(gr: GroupResource, name: string): ApiError {
    return new ApiError(409, 'AlreadyExists', `${qualifiedResource(gr)} "${name}" already exists`, {
      name,
      group: gr.group,
      kind: gr.resource,
    });
  }

  static conflict(gr: GroupResource, name: string, why: string): ApiError {
    return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(gr)} "${name}": ${why}`, {
      name,
      group: gr.group,
      kind: gr.resource,
    });
  }

  /** 422 Invalid, message as upstream: `Deployment.apps "web" is invalid: [a: Required value, b: ...]`. */
  static invalid(group: string, kind: string, name: string, errs: FieldError[]): ApiError {
    const qualifiedKind = group ? `${kind}.${group}` : kind;
    const texts = errs.map(fieldErrorText);
    const list = texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`;
    return new ApiError(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${list}`, {
      name,
      group,
      kind,
      causes: errs.map((e) => ({ reason: e.type, message: fieldErrorBody(e), field: e.field })),
    });
  }

  static badRequest(message: string, causes?: StatusCause[]): ApiError {
    return new ApiError(400, 'BadRequest', message, causes ? { causes } : undefined);
  }

  static unauthorized(message = 'Unauthorized'): ApiError {
    return new ApiError(401, 'Unauthorized', message);
  }

  static forbidden(gr: GroupResource, name: string, why: string): ApiError {
    const what = name ? `${qualifiedResource(gr)} "${name}"` : qualifiedResource(gr);
    return new ApiError(403, 'Forbidden', `${what} is forbidden: ${why}`, { name, group: gr.group, kind: gr.resource });
  }

  static methodNotAllowed(message: string): ApiError {
    return new ApiError(405, 'MethodNotAllowed', message);
  }

  static notAcceptable(message: string): ApiError {
    return new ApiError(406, 'NotAcceptable', message);
  }

  /** 410 Gone with reason Expired, as for a compacted resourceVersion or continue token. */
  static expired(message: string): ApiError {
    return new ApiError(410, 'Expired', message);
  }

  static gone(message: string): ApiError {
    return new ApiError(410, 'Gone', message);
  }

  static tooLarge(message: string): ApiError {
    return new ApiError(413, 'RequestEntityTooLarge', message);
  }

  static unsupportedMediaType(contentType: string): ApiError {
    return new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/apply-patch+yaml, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${JSON.stringify(contentType)})`);
  }

  static timeout(message: string): ApiError {
    return new ApiError(504, 'Timeout', message);
  }

  static internal(message: string): ApiError {
    return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });
  }

  static serviceUnavailable(message: string): ApiError {
    return new ApiError(503, 'ServiceUnavailable', message, { retryAfterSeconds: 1 });
  }
}

export function successStatus(details?: StatusDetails): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 200, ...(details ? { details: omitEmptyGroup(details) } : {}) };
}

/** StatusDetails.group is `omitempty` upstream: the core group is left out, not sent as "". */
function omitEmptyGroup(d: StatusDetails): StatusDetails {
  if (d.group !== '') return d;
  const { group: _g, ...rest } = d;
  return rest;
}
