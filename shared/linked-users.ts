/** The linked-users table: an application username → the phone number it notifies. */
import type { TableStore } from './table-store.js';
import { decodeKey, encodeKey, getEntityOrUndefined, isNotFound } from './table-store.js';

const PARTITION = 'user';

export interface LinkedUser {
  username: string;
  phone: string;
  linkedAt: string;
}

interface LinkedUserEntity {
  phone: string;
  linkedAt: string;
}

export interface LinkedUserStore {
  find(username: string): Promise<LinkedUser | undefined>;
  link(username: string, phoneDigits: string): Promise<LinkedUser>;
  unlink(username: string): Promise<boolean>;
  list(): Promise<LinkedUser[]>;
}

export function createLinkedUserStore(tables: TableStore): LinkedUserStore {
  const client = () => tables.client('linkedUsers');
  return {
    async find(username) {
      await tables.ensureTables();
      const e = await getEntityOrUndefined<LinkedUserEntity>(client(), PARTITION, encodeKey(username));
      return e ? { username, phone: e.phone, linkedAt: e.linkedAt } : undefined;
    },
    async link(username, phone) {
      await tables.ensureTables();
      const linkedAt = new Date().toISOString();
      await client().upsertEntity({ partitionKey: PARTITION, rowKey: encodeKey(username), phone, linkedAt }, 'Replace');
      return { username, phone, linkedAt };
    },
    async unlink(username) {
      await tables.ensureTables();
      try {
        await client().deleteEntity(PARTITION, encodeKey(username));
        return true;
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
    },
    async list() {
      await tables.ensureTables();
      const out: LinkedUser[] = [];
      for await (const e of client().listEntities<LinkedUserEntity>()) {
        out.push({ username: decodeKey(e.rowKey!), phone: e.phone, linkedAt: e.linkedAt });
      }
      return out.sort((a, b) => a.username.localeCompare(b.username));
    },
  };
}
