/**
 * The WebSocket protocol between the function (client) and the sidecar (server), version 1.
 *
 * Negotiated as the WebSocket subprotocol `wa-notify.v1`; every JSON frame also carries `v: 1`.
 * One exchange per notification:
 *   function → sidecar   send     (then, for attachments, binary frames: see attachment-frames.ts)
 *   sidecar  → function  accepted (written to the durable queue; `deferred` when WhatsApp is offline)
 *   sidecar  → function  report   (one per recipient, once WhatsApp's server acked or it failed)
 *   sidecar  → function  done
 * or `rejected` instead of `accepted`. `watch` re-attaches to a notification after a reconnect: the
 * sidecar answers with a report for each finished recipient and `done` once all have finished.
 * Both ends parse every frame with these schemas; a frame that does not parse is dropped and logged.
 *
 * `role` (added compatibly in 1.1, no requestId): the sidecar says on connect, and again whenever
 * it changes, whether it holds the WhatsApp session lease or is a standby (naming the holder), so
 * a function configured with several sidecars keeps its socket to the holder. A standby still
 * accepts `send` (it queues durably and answers `deferred`); it never sends to WhatsApp.
 */
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;
export const SUBPROTOCOL = 'wa-notify.v1';
export const SIDECAR_WS_PATH = '/ws';

const base = { v: z.literal(PROTOCOL_VERSION), requestId: z.string().min(1).max(64) };

export const wireRecipientSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('self') }),
  z.object({ kind: z.literal('phone'), phone: z.string().regex(/^[1-9][0-9]{6,14}$/) }),
]);
export type WireRecipient = z.infer<typeof wireRecipientSchema>;

export const attachmentDescriptorSchema = z.object({
  byteLength: z.number().int().nonnegative(),
  mimetype: z.string().min(1).max(255),
  fileName: z.string().min(1).max(255),
});
export type AttachmentDescriptor = z.infer<typeof attachmentDescriptorSchema>;

export const notificationContentSchema = z.object({
  message: z.string().optional(),
  caption: z.string().optional(),
  image: attachmentDescriptorSchema.optional(),
  document: attachmentDescriptorSchema.optional(),
});
export type NotificationContent = z.infer<typeof notificationContentSchema>;

export const wireNotificationSchema = z.object({
  id: z.string().min(1).max(64),
  apiKeyHash: z.string().min(1).max(128),
  createdAt: z.string(),
  skipped: z.number().int().nonnegative(),
  waitForDelivery: z.boolean(),
  recipients: z.array(wireRecipientSchema).min(1).max(5),
  content: notificationContentSchema,
});
export type WireNotification = z.infer<typeof wireNotificationSchema>;

export const clientMessageSchema = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('send'),
    notification: wireNotificationSchema,
    /** WHATSAPP_OFFLINE_POLICY=reject: answer `rejected` 409 instead of queuing while offline. */
    rejectIfOffline: z.boolean(),
  }),
  z.object({ ...base, type: z.literal('watch'), id: z.string().min(1).max(64) }),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

export const reportOutcomeSchema = z.enum(['sent', 'failed']);

export const serverMessageSchema = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('accepted'),
    id: z.string(),
    queued: z.number().int().nonnegative(),
    deferred: z.boolean(),
    /** JIDs, or `self` while the paired number is unknown. */
    recipients: z.array(z.string()),
  }),
  z.object({
    ...base,
    type: z.literal('report'),
    id: z.string(),
    to: z.string(),
    outcome: reportOutcomeSchema,
    error: z.string().optional(),
  }),
  z.object({ ...base, type: z.literal('done'), id: z.string() }),
  z.object({
    v: z.literal(PROTOCOL_VERSION),
    type: z.literal('role'),
    role: z.enum(['holder', 'standby']),
    /** WHATSAPP_SIDECAR_ID of the sending sidecar, and of the lease holder when known. */
    sidecar: z.string().max(256),
    holder: z.string().max(256).optional(),
  }),
  z.object({
    ...base,
    type: z.literal('rejected'),
    status: z.union([z.literal(400), z.literal(404), z.literal(409), z.literal(413), z.literal(429), z.literal(503)]),
    message: z.string(),
    retryAfterSeconds: z.number().int().positive().optional(),
  }),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;
export type RoleMessage = Extract<ServerMessage, { type: 'role' }>;

export type ParseFrame<T> = { ok: true; message: T } | { ok: false; error: string };

function parseFrame<T>(schema: z.ZodType<T>, text: string): ParseFrame<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: 'frame is not JSON' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, error: parsed.error.issues[0]?.message ?? 'invalid frame' };
  return { ok: true, message: parsed.data };
}

export const parseClientMessage = (text: string): ParseFrame<ClientMessage> => parseFrame(clientMessageSchema, text);
export const parseServerMessage = (text: string): ParseFrame<ServerMessage> => parseFrame(serverMessageSchema, text);

/** WebSocket close codes the sidecar uses, so the client can tell why it was dropped. */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  tooBig: 1009,
  policy: 1008,
  idle: 4000,
  tooManyInFlight: 4029,
} as const;
