// Enrollment over the API (docs/api.md, docs/security.md): list enrolled
// nodes with their state, enroll one (the response is its bundle), revoke
// one (disconnected at once), and fetch the CA certificate to trust.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NODE_ID_PATTERN } from '@hsfl/protocol';
import type { Coordinator } from '../coordinator.js';
import type { Enrollment } from '../enrollment.js';
import type { EnrollRequest } from '../pki/enroll.js';
import { HttpError } from './http.js';
import { nodeParams } from './schemas.js';
import { enrolledState } from '../node-commands.js';
import type { EnrollmentView } from './view-types.js';

const enrollBody = {
  type: 'object',
  additionalProperties: false,
  required: ['role', 'id'],
  properties: {
    role: { type: 'string', enum: ['device', 'edge'] },
    id: { type: 'string', pattern: NODE_ID_PATTERN },
    edge: { type: 'string', pattern: NODE_ID_PATTERN },
    parentUrl: { type: 'string', maxLength: 300, pattern: '^https://' },
    renew: { type: 'boolean' },
    validDays: { type: 'integer', minimum: 1, maximum: 3650 },
    hosts: { type: 'array', maxItems: 16, items: { type: 'string', pattern: '^[A-Za-z0-9.:-]{1,253}$' } },
  },
} as const;

const revokeBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { reason: { type: 'string', maxLength: 200 } },
} as const;

export interface EnrollmentRouteContext {
  coordinator: Coordinator;
  /** Who is asking, for the event log and audit trail ("admin (bearer) from 10.0.0.5"). */
  actor: (req: FastifyRequest) => string;
  /** Names the node a request acted on, for its audit row. */
  note: (req: FastifyRequest, target: string) => void;
}

export function registerEnrollmentRoutes(app: FastifyInstance, ctx: EnrollmentRouteContext): void {
  const coord = ctx.coordinator;
  const enrollment = (): Enrollment => {
    if (!coord.enrollment) throw new HttpError(409, 'this coordinator runs with --insecure: nodes join with the shared token and nothing is enrolled (docs/security.md)');
    return coord.enrollment;
  };

  app.get('/api/enrollment', { config: { access: 'viewer' } }, async (): Promise<EnrollmentView> => {
    const e = coord.enrollment;
    const connected = new Set<string>();
    for (const edge of coord.topology()) {
      connected.add(edge.id);
      for (const d of edge.devices) connected.add(d.id);
    }
    return {
      secure: e !== undefined,
      caFingerprint: e?.pki.ca.fingerprint ?? null,
      nodes: coord.store.enrolledNodes().map((n) => ({
        id: n.id, role: n.role, edge: n.edge, enrolledAt: n.enrolledAt, enrolledBy: n.enrolledBy, expiresAt: n.expiresAt,
        revokedAt: n.revokedAt, revokedReason: n.revokedReason,
        state: enrolledState(n, connected),
      })),
    };
  });

  // Public: it is what browsers and nodes are asked to trust, and no secret.
  app.get('/api/enrollment/ca.crt', { config: { access: 'public' } }, async (_req, reply) => {
    reply.type('application/x-pem-file').header('Content-Disposition', 'attachment; filename="hsfl-ca.crt"');
    return enrollment().pki.ca.certPem;
  });

  app.post<{ Body: EnrollRequest }>('/api/enrollment', { config: { access: 'admin', audit: 'node_enrolled' }, schema: { body: enrollBody } }, async (req, reply) => {
    ctx.note(req, req.body.id);
    const { bundle } = enrollment().enroll(req.body, ctx.actor(req));
    reply.code(201).header('Content-Disposition', `attachment; filename="${bundle.id}.hsfl.json"`).header('Cache-Control', 'no-store');
    return bundle;
  });

  app.post<{ Params: { id: string }; Body: { reason?: string } | null }>(
    '/api/enrollment/:id/revoke',
    { config: { access: 'admin', audit: 'node_revoked' }, schema: { params: nodeParams, body: revokeBody } },
    async (req) => {
      ctx.note(req, req.params.id);
      const serials = enrollment().revoke(req.params.id, req.body?.reason ?? '', ctx.actor(req));
      return { id: req.params.id, revoked: serials.length };
    },
  );
}
