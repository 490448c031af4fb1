/**
 * Receives the attachment frames that follow a `send` on one function connection and writes them
 * to the attachment store as they arrive, in order, slot by slot. The notification is queued (and
 * answered) only once every declared slot has been stored whole; a slot that brings more bytes
 * than it declared, or stops arriving, fails the upload.
 */
import type { AttachmentFrame } from '../shared/attachment-frames.js';
import type { AttachmentSlot, AttachmentStore } from '../shared/attachment-store.js';

export interface Upload {
  /** Resolves with the stored byte count per slot once all are complete. */
  done: Promise<Partial<Record<AttachmentSlot, number>>>;
  discard(): void;
}

export interface AttachmentReceiver {
  expect(requestId: string, notificationId: string, declared: Partial<Record<AttachmentSlot, number>>, timeoutMs: number): Upload;
  onFrame(frame: AttachmentFrame): void;
  /** Fails every upload still in progress (the connection closed). */
  abortAll(reason: string): void;
}

interface SlotState {
  declared: number;
  received: number;
  chain: Promise<void>;
  finished: boolean;
}

/** Pausing the socket while storage catches up keeps a fast sender from filling memory. */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

const HIGH_WATER_BYTES = 8 * 1024 * 1024;
const LOW_WATER_BYTES = 2 * 1024 * 1024;

export function createAttachmentReceiver(store: AttachmentStore, flow?: FlowControl): AttachmentReceiver {
  let pendingBytes = 0;
  let paused = false;
  const written = (bytes: number) => {
    pendingBytes -= bytes;
    if (paused && pendingBytes <= LOW_WATER_BYTES) {
      paused = false;
      flow?.resume();
    }
  };
  const uploads = new Map<
    string,
    {
      slots: Map<AttachmentSlot, SlotState & { writer: ReturnType<AttachmentStore['writer']> }>;
      fail: (e: Error) => void;
      check: () => void;
    }
  >();

  return {
    expect(requestId, notificationId, declared, timeoutMs) {
      let resolve!: (v: Partial<Record<AttachmentSlot, number>>) => void;
      let reject!: (e: Error) => void;
      const done = new Promise<Partial<Record<AttachmentSlot, number>>>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      done.catch(() => undefined); // observed by the caller; never an unhandled rejection
      const slots = new Map<AttachmentSlot, SlotState & { writer: ReturnType<AttachmentStore['writer']> }>();
      for (const [slot, size] of Object.entries(declared) as [AttachmentSlot, number][]) {
        slots.set(slot, {
          declared: size,
          received: 0,
          chain: Promise.resolve(),
          finished: false,
          writer: store.writer(notificationId, slot),
        });
      }
      const timer = setTimeout(() => fail(new Error('attachment bytes did not arrive in time')), timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        uploads.delete(requestId);
        reject(error);
      };
      const check = () => {
        if (![...slots.values()].every((s) => s.finished)) return;
        clearTimeout(timer);
        uploads.delete(requestId);
        Promise.all([...slots.values()].map((s) => s.chain))
          .then(() => resolve(Object.fromEntries([...slots].map(([slot, s]) => [slot, s.received]))))
          .catch((e: unknown) => reject(e as Error));
      };
      uploads.set(requestId, { slots, fail, check });
      if (slots.size === 0) check();
      return {
        done,
        discard() {
          clearTimeout(timer);
          uploads.delete(requestId);
        },
      };
    },

    onFrame(frame) {
      const upload = uploads.get(frame.requestId);
      const slot = upload?.slots.get(frame.slot);
      if (!upload || !slot || slot.finished) return;
      slot.received += frame.data.byteLength;
      if (slot.received > slot.declared) {
        upload.fail(new Error(`${frame.slot} is longer than declared`));
        return;
      }
      const data = frame.data;
      pendingBytes += data.byteLength;
      if (!paused && pendingBytes >= HIGH_WATER_BYTES) {
        paused = true;
        flow?.pause();
      }
      slot.chain = slot.chain.then(() => slot.writer.write(data)).finally(() => written(data.byteLength));
      slot.chain.catch((e: unknown) => upload.fail(e as Error));
      if (frame.last) {
        slot.chain = slot.chain.then(async () => {
          await slot.writer.finish();
        });
        slot.chain.catch((e: unknown) => upload.fail(e as Error));
        slot.finished = true;
        upload.check();
      }
    },

    abortAll(reason) {
      for (const u of [...uploads.values()]) u.fail(new Error(reason));
    },
  };
}
