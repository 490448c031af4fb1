/**
 * API keys are stored only as HMAC-SHA256(pepper, key), and looked up by that hash. The plain key
 * exists once: in the answer to `apikey create`.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { TableStore } from './table-store.js';
import { getEntityOrUndefined } from './table-store.js';

const PARTITION = 'apikey';

export interface ApiKeyRecord {
  hash: string;
  name: string;
  createdAt: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

interface ApiKeyEntity {
  name: string;
  createdAt: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

export function hashApiKey(pepper: string, key: string): string {
  return createHmac('sha256', pepper).update(key, 'utf8').digest('hex');
}

export function generateApiKey(): string {
  return `wan_${randomBytes(24).toString('base64url')}`;
}

export class ApiKeyNameTaken extends Error {
  constructor(name: string) {
    super(`an active API key named "${name}" already exists`);
    this.name = 'ApiKeyNameTaken';
  }
}

export interface ApiKeyStore {
  create(name: string): Promise<{ key: string; record: ApiKeyRecord }>;
  /** The active (not revoked) key with this hash. */
  findActive(hash: string): Promise<ApiKeyRecord | undefined>;
  list(): Promise<ApiKeyRecord[]>;
  /** Revokes every active key with this name; returns how many. */
  revoke(name: string): Promise<number>;
  touch(hash: string, at: Date): Promise<void>;
}

export function createApiKeyStore(tables: TableStore, pepper: string): ApiKeyStore {
  const client = () => tables.client('apiKeys');
  const toRecord = (hash: string, e: ApiKeyEntity): ApiKeyRecord => ({
    hash,
    name: e.name,
    createdAt: e.createdAt,
    ...(e.lastUsedAt ? { lastUsedAt: e.lastUsedAt } : {}),
    ...(e.revokedAt ? { revokedAt: e.revokedAt } : {}),
  });

  const list = async (): Promise<ApiKeyRecord[]> => {
    await tables.ensureTables();
    const out: ApiKeyRecord[] = [];
    for await (const e of client().listEntities<ApiKeyEntity>()) out.push(toRecord(e.rowKey!, e));
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  };

  return {
    async create(name) {
      await tables.ensureTables();
      if ((await list()).some((r) => r.name === name && !r.revokedAt)) throw new ApiKeyNameTaken(name);
      const key = generateApiKey();
      const hash = hashApiKey(pepper, key);
      const entity: ApiKeyEntity = { name, createdAt: new Date().toISOString() };
      await client().createEntity({ partitionKey: PARTITION, rowKey: hash, ...entity });
      return { key, record: toRecord(hash, entity) };
    },
    async findActive(hash) {
      await tables.ensureTables();
      const e = await getEntityOrUndefined<ApiKeyEntity>(client(), PARTITION, hash);
      return e && !e.revokedAt ? toRecord(hash, e) : undefined;
    },
    list,
    async revoke(name) {
      const active = (await list()).filter((r) => r.name === name && !r.revokedAt);
      const revokedAt = new Date().toISOString();
      for (const r of active) await client().updateEntity({ partitionKey: PARTITION, rowKey: r.hash, revokedAt }, 'Merge');
      return active.length;
    },
    async touch(hash, at) {
      await client().updateEntity({ partitionKey: PARTITION, rowKey: hash, lastUsedAt: at.toISOString() }, 'Merge');
    },
  };
}
