/**
 * `import { WaNotify } from 'wa-notify'`: the typed client for the REST API (CONTRACT.md).
 *
 *   const wa = new WaNotify({ url: 'https://my-app.azurewebsites.net', apiKey: process.env.WA_NOTIFY_APIKEY });
 *   const result = await wa.send({ self: true, message: 'Build #482 finished' });
 */
export { WaNotify, DEFAULT_URL } from './wa-notify.js';
export type {
  DeferredResult,
  DeliveryResult,
  SendContent,
  NotificationStatus,
  QueuedResult,
  Recipient,
  SendRequest,
  SendResult,
  WaNotifyOptions,
} from './wa-notify.js';
export { WaNotifyError } from './errors.js';
export { DEFAULT_RETRY, RETRYABLE_STATUSES, type RetryOptions } from './retry-policy.js';
export type {
  DeferredBody,
  DeliveryReportBody,
  ErrorBody,
  NotificationStatusBody,
  QueuedBody,
  RecipientState,
} from '../shared/notify-response-schema.js';
