/**
 * The bodies POST /api/v1/whatsapp/notify and GET /api/v1/whatsapp/notify/{id} answer with, as zod
 * schemas: the one description the OpenAPI document (shared/openapi.ts) and the typed client
 * (client/) are built from. Objects are not strict, so a field added later does not break a client.
 */
import { z } from 'zod';

const count = z.int().min(0);
const notificationId = z.string().describe('Notification id, for GET /api/v1/whatsapp/notify/{id}');

export const errorBodySchema = z.object({
  status: z.literal('error'),
  message: z.string(),
  field: z.string().optional().describe('The request field at fault, e.g. `phones[2]` (400 and some 413)'),
  hint: z.string().optional().describe('What an accepted value looks like (attachment path refusals); the same text for every refusal'),
});

/** 200: accepted, fire-and-forget. */
export const queuedBodySchema = z.object({
  status: z.literal('success'),
  message: z.string().describe('`Queued for N recipient(s)`'),
  queued: count.describe('Recipients queued'),
  skipped: count.describe('Distinct recipients trimmed by the 5-recipient cap'),
  id: notificationId,
});

export const deliveryFailureSchema = z.object({ to: z.string().describe('Recipient JID'), error: z.string() });

/**
 * 200 with `deferred: true` (contract v1.1; see its change note): WhatsApp is offline, the notification
 * is stored and sent when it reconnects. With `wait_for_delivery` it also carries `data`, every
 * recipient in `pending`, answered at once.
 */
export const deferredBodySchema = queuedBodySchema.extend({
  message: z.string().describe('`WhatsApp is offline; queued for N recipient(s) until it reconnects`'),
  deferred: z.literal(true).describe('WhatsApp is offline: stored, and sent when it reconnects. A success: do not retry'),
  data: z
    .object({
      sent: z.array(z.string()).max(0),
      failed: z.array(deliveryFailureSchema).max(0),
      skipped: count,
      pending: z.array(z.string()).describe('Every recipient JID (`self` while the paired number is unknown)'),
    })
    .optional()
    .describe('`wait_for_delivery: true` only'),
});

/** `wait_for_delivery: true`: 200 (all or some sent), 502 (none sent), 504 (time ran out; sending goes on). */
export const deliveryReportBodySchema = z.object({
  status: z.enum(['success', 'error']).describe('`error` when any recipient failed or is still pending'),
  message: z.string().describe('`Sent to N of M recipient(s)`'),
  data: z.object({
    sent: z.array(z.string()).describe('Recipient JIDs for which WhatsApp acknowledged every part'),
    failed: z.array(deliveryFailureSchema),
    skipped: count,
    pending: z.array(z.string()).optional().describe('504 only: recipients still being sent'),
  }),
  id: notificationId,
});

export const RECIPIENT_STATES = ['queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'expired'] as const;

export const notificationStatusBodySchema = z.object({
  status: z.literal('success'),
  data: z.object({
    id: z.string(),
    created_at: z.string().describe('ISO 8601'),
    recipients: z.array(
      z.object({
        to: z
          .string()
          .describe(
            'Recipient phone number: digits with the country code, as requests give them (`self` until the paired number is known)',
          ),
        state: z.enum(RECIPIENT_STATES),
        error: z.string().optional(),
        updated_at: z.string().describe('ISO 8601'),
      }),
    ),
  }),
});

export type ErrorBody = z.infer<typeof errorBodySchema>;
export type QueuedBody = z.infer<typeof queuedBodySchema>;
export type DeferredBody = z.infer<typeof deferredBodySchema>;
export type DeliveryReportBody = z.infer<typeof deliveryReportBodySchema>;
export type NotificationStatusBody = z.infer<typeof notificationStatusBodySchema>;
export type RecipientState = (typeof RECIPIENT_STATES)[number];
