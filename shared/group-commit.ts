/**
 * Group commit for Table storage: writes queue up per partition while transactions are in flight
 * and go out together, up to 100 actions per entity-group transaction (Azure's limit).
 *
 * A write may also *linger*: it waits up to `lingerMs` for company, and rides along with the next
 * transaction of its partition that leaves sooner (an insert on the accept path, say), so a
 * bookkeeping write that nobody waits for costs no request of its own under steady traffic.
 */

/** Azure's limit on operations in one entity-group transaction. */
export const MAX_ACTIONS_PER_TRANSACTION = 100;

export interface GroupCommitOptions<T> {
  partitionOf(item: T): string;
  actionsOf(item: T): number;
  /** Items with the same key may not share a transaction (an entity may appear once per transaction). */
  keyOf?(item: T): string;
  /** Writes one group (same partition, within the limits); settles each item itself. */
  commit(group: T[]): Promise<void>;
  /** Transactions in flight at once (across partitions); more work gathers for the next ones (default 4). */
  maxInFlight?: number;
}

export interface GroupCommitter<T> {
  /** Queues an item: it leaves with the next transaction, or after `lingerMs` at the latest. */
  add(item: T, lingerMs?: number): void;
  /** Sends every lingering item now (shutdown). */
  flushLingering(): void;
  /** Items not yet handed to commit() (waiting or lingering). */
  pending(): number;
}

interface Lingering<T> {
  item: T;
  timer: NodeJS.Timeout;
}

export function createGroupCommitter<T>(options: GroupCommitOptions<T>): GroupCommitter<T> {
  const maxInFlight = options.maxInFlight ?? 4;
  let waiting: T[] = [];
  const lingering = new Map<string, Lingering<T>[]>();
  let lingeringCount = 0;
  let active = 0;
  let scheduled = false;

  const unlinger = (pk: string, entry: Lingering<T>) => {
    const list = lingering.get(pk);
    const at = list?.indexOf(entry) ?? -1;
    if (!list || at < 0) return false;
    list.splice(at, 1);
    if (list.length === 0) lingering.delete(pk);
    clearTimeout(entry.timer);
    lingeringCount--;
    return true;
  };

  interface Group {
    items: T[];
    actions: number;
    keys: Set<string>;
  }
  const fits = (g: Group, item: T) => {
    const key = options.keyOf?.(item);
    return g.actions + options.actionsOf(item) <= MAX_ACTIONS_PER_TRANSACTION && (key === undefined || !g.keys.has(key));
  };
  const put = (g: Group, item: T) => {
    g.items.push(item);
    g.actions += options.actionsOf(item);
    const key = options.keyOf?.(item);
    if (key !== undefined) g.keys.add(key);
  };

  const groupsOf = (batch: T[]): T[][] => {
    const groups: T[][] = [];
    const open = new Map<string, Group>();
    for (const item of batch) {
      const pk = options.partitionOf(item);
      let g = open.get(pk);
      if (!g || !fits(g, item)) {
        g = { items: [], actions: 0, keys: new Set() };
        open.set(pk, g);
        groups.push(g.items);
      }
      put(g, item);
    }
    // Lingering writes of a partition that is being written anyway ride along, room permitting.
    for (const [pk, g] of open) {
      for (const entry of [...(lingering.get(pk) ?? [])]) {
        if (!fits(g, entry.item)) continue;
        unlinger(pk, entry);
        put(g, entry.item);
      }
    }
    return groups;
  };

  /** Partitions with a transaction in flight: one at a time per partition, the rest gathers behind it. */
  const busy = new Set<string>();
  const flush = async (): Promise<void> => {
    if (active >= maxInFlight) return;
    active++;
    try {
      for (;;) {
        // The first group of each free partition leaves; the rest waits, in order, for its
        // partition's transaction to land (storage may refuse concurrent transactions on one
        // partition: Azurite answers 500 "Transaction Failed").
        const blocked = waiting.filter((item) => busy.has(options.partitionOf(item)));
        const leaving: T[][] = [];
        const held: T[] = [];
        for (const group of groupsOf(waiting.filter((item) => !busy.has(options.partitionOf(item))))) {
          const pk = options.partitionOf(group[0]!);
          if (busy.has(pk)) held.push(...group);
          else {
            busy.add(pk);
            leaving.push(group);
          }
        }
        waiting = [...held, ...blocked];
        if (leaving.length === 0) return;
        await Promise.all(
          leaving.map(async (group) => {
            try {
              await options.commit(group);
            } finally {
              busy.delete(options.partitionOf(group[0]!));
              if (waiting.length > 0) schedule();
            }
          }),
        );
      }
    } finally {
      active--;
    }
  };

  const schedule = () => {
    // Items added in the same turn (a flush of many rows) go out together.
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      void flush();
    });
  };

  return {
    add(item, lingerMs = 0) {
      if (lingerMs <= 0) {
        waiting.push(item);
        schedule();
        return;
      }
      const pk = options.partitionOf(item);
      const entry: Lingering<T> = {
        item,
        timer: setTimeout(() => {
          if (!unlinger(pk, entry)) return;
          waiting.push(item);
          schedule();
        }, lingerMs),
      };
      const list = lingering.get(pk);
      if (list) list.push(entry);
      else lingering.set(pk, [entry]);
      lingeringCount++;
    },
    flushLingering() {
      for (const [pk, list] of [...lingering]) {
        for (const entry of [...list]) {
          unlinger(pk, entry);
          waiting.push(entry.item);
        }
      }
      if (waiting.length > 0) schedule();
    },
    pending: () => waiting.length + lingeringCount,
  };
}
