/**
 * What the official OpenAlgo Python SDK sends for `api(api_key, host).whatsapp(...)`, mimicked
 * exactly (PyPI is unreachable here; the facts are the ones issue 13 lists), and how the SDK reads
 * the answer. The compatibility suite (test/openalgo-compat.test.ts) drives the real stack with it.
 *
 * Where the issue is silent we took the shape that is harder on the service: `message` is always
 * in the body (JSON `null` when the Python argument is None), and `username` counts when truthy.
 */

/** Python's `to=`: a str, a list or a tuple (a tuple serialises to the same JSON array), or anything else. */
export type PythonTo = string | readonly (string | number)[] | { tuple: readonly (string | number)[] } | number | null;

export interface OpenAlgoWhatsappArgs {
  apiKey: string;
  /** `api(host=…)`; a trailing `/` makes the SDK request `//api/v1/whatsapp/notify`. */
  host: string;
  message?: string | null;
  to?: PythonTo;
  username?: string | null;
  image?: string | null;
  document?: string | null;
  caption?: string | null;
  filename?: string | null;
  /** Always sent; the SDK's default is true. */
  waitForDelivery?: boolean;
  /** `**kwargs`: forwarded as body fields (e.g. idempotency_key). */
  kwargs?: Record<string, unknown>;
}

export interface OpenAlgoRequest {
  url: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export function openalgoWhatsappRequest(args: OpenAlgoWhatsappArgs): OpenAlgoRequest {
  const body: Record<string, unknown> = { apikey: args.apiKey, message: args.message ?? null };
  const to = args.to ?? null;
  if (args.username) body.username = args.username;
  else if (Array.isArray(to)) body.phones = [...(to as readonly (string | number)[])];
  else if (typeof to === 'object' && to !== null && 'tuple' in to) body.phones = [...to.tuple];
  else if (typeof to === 'string' && to !== '') body.phone = to;
  else body.self = true;
  if (args.image != null) body.image_path = args.image;
  if (args.document != null) body.document_path = args.document;
  if (args.caption != null) body.caption = args.caption;
  if (args.filename != null) body.filename = args.filename;
  body.wait_for_delivery = args.waitForDelivery ?? true;
  Object.assign(body, args.kwargs ?? {});
  return {
    // String concatenation, as the SDK does: no slash is removed.
    url: `${args.host}/api/v1/whatsapp/notify`,
    // The only header the SDK sets; the key is never in X-API-KEY.
    headers: { 'Content-Type': 'application/json' },
    body,
  };
}

/** What `client.whatsapp()` returns to the script: the JSON on 200, else its error dict. */
export type SdkResult = Record<string, unknown>;

export interface SdkCall {
  status: number;
  text: string;
  /** What the SDK hands the calling script. */
  result: SdkResult;
}

export async function callLikeTheSdk(request: OpenAlgoRequest): Promise<SdkCall> {
  const res = await fetch(request.url, { method: 'POST', headers: request.headers, body: JSON.stringify(request.body) });
  const text = await res.text();
  if (res.status !== 200)
    return { status: res.status, text, result: { status: 'error', message: `HTTP ${res.status}: ${text}`, code: res.status } };
  return { status: res.status, text, result: JSON.parse(text) as SdkResult };
}
