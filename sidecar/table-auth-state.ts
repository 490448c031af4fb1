/**
 * Baileys' auth state (creds and Signal keys) kept in the `WhatsappSession` table instead of files,
 * so the host is disposable: a restart or a redeploy keeps the pairing. Values are serialised with
 * Baileys' BufferJSON, encrypted (session-cipher.ts), and chunked past 64 KiB; row keys are keyed
 * hashes of the key ids, since those ids name the contacts. One `keys.set` call is
 * written as entity-group transactions (one partition), not a round trip per key.
 */
import { BufferJSON, initAuthCreds, proto, type AuthenticationCreds, type AuthenticationState, type SignalDataTypeMap } from '@whiskeysockets/baileys';
import type { TransactionAction } from '@azure/data-tables';
import { fromChunkProperties, toChunkProperties } from '../shared/chunked-binary.js';
import { getEntityOrUndefined, type TableStore } from '../shared/table-store.js';
import type { SessionCipher } from './session-cipher.js';

const CREDS_PK = 'creds';
const KEYS_PK = 'keys';

export interface TableAuthState {
  state: AuthenticationState;
  saveCreds(): Promise<void>;
  /** Whether the stored creds belong to a paired (registered) device. */
  isPaired(): boolean;
  /** Re-reads the creds and forgets cached misses (another sidecar may have written meanwhile). */
  reload(): Promise<void>;
  /** Deletes every creds and key row (logout), and starts over with fresh creds in memory. */
  wipe(): Promise<void>;
}

export async function loadTableAuthState(tables: TableStore, cipher: SessionCipher): Promise<TableAuthState> {
  await tables.ensureTables();
  const client = tables.client('session');

  const read = async (pk: string, rk: string): Promise<unknown> => {
    const entity = await getEntityOrUndefined<Record<string, unknown>>(client, pk, rk);
    if (!entity) return undefined;
    const plain = cipher.decrypt(fromChunkProperties(entity), `${pk}/${rk}`);
    return JSON.parse(Buffer.from(plain).toString('utf8'), BufferJSON.reviver);
  };
  const sealed = (pk: string, rk: string, value: unknown) =>
    toChunkProperties(cipher.encrypt(Buffer.from(JSON.stringify(value, BufferJSON.replacer)), `${pk}/${rk}`));

  const readCreds = async () => ((await read(CREDS_PK, CREDS_PK)) as AuthenticationCreds | undefined) ?? initAuthCreds();
  let creds: AuthenticationCreds = await readCreds();
  // Baileys asks for keys that do not exist on every send (tctoken, …), and its cache keeps only hits.
  // Remember misses: with the session lease this process is the only writer, so a miss stays a miss
  // until this process writes the key (reload() forgets them after another holder had the lease).
  const absent = new Set<string>();
  const state: AuthenticationState = {
    get creds() {
      return creds;
    },
    set creds(value) {
      creds = value;
    },
    keys: {
      async get<T extends keyof SignalDataTypeMap>(type: T, ids: string[]) {
        const data: { [id: string]: SignalDataTypeMap[T] } = {};
        await Promise.all(
          ids.map(async (id) => {
            const rowKey = cipher.rowKey(`${type}~${id}`);
            if (absent.has(rowKey)) return;
            let value = await read(KEYS_PK, rowKey);
            if (value === undefined) absent.add(rowKey);
            if (type === 'app-state-sync-key' && value) value = proto.Message.AppStateSyncKeyData.fromObject(value as object);
            if (value !== undefined) data[id] = value as SignalDataTypeMap[T];
          }),
        );
        return data;
      },
      async set(data) {
        const actions: TransactionAction[] = [];
        for (const type of Object.keys(data) as (keyof SignalDataTypeMap)[]) {
          for (const [id, value] of Object.entries(data[type] ?? {})) {
            const rowKey = cipher.rowKey(`${type}~${id}`);
            if (value) absent.delete(rowKey);
            else absent.add(rowKey);
            actions.push(
              value
                ? ['upsert', { partitionKey: KEYS_PK, rowKey, ...sealed(KEYS_PK, rowKey, value) }, 'Replace']
                : ['delete', { partitionKey: KEYS_PK, rowKey }],
            );
          }
        }
        // Deletes of missing rows would fail a transaction, so they run on their own, tolerated.
        const deletes = actions.filter((a) => a[0] === 'delete');
        const upserts = actions.filter((a) => a[0] !== 'delete');
        for (let i = 0; i < upserts.length; i += 50) await client.submitTransaction(upserts.slice(i, i + 50));
        await Promise.all(
          deletes.map(([, e]) => client.deleteEntity(e.partitionKey, e.rowKey).catch((error: { statusCode?: number }) => {
            if (error.statusCode !== 404) throw error;
          })),
        );
      },
    },
  };

  return {
    state,
    async saveCreds() {
      await client.upsertEntity({ partitionKey: CREDS_PK, rowKey: CREDS_PK, ...sealed(CREDS_PK, CREDS_PK, creds) }, 'Replace');
    },
    isPaired: () => Boolean(creds.registered || creds.me?.id),
    async reload() {
      absent.clear();
      creds = await readCreds();
    },
    async wipe() {
      // Hundreds of key rows after a while: delete them in entity-group transactions, not one by one.
      const byPartition = new Map<string, string[]>();
      for await (const e of client.listEntities({ queryOptions: { select: ['PartitionKey', 'RowKey'] } })) {
        if (e.partitionKey !== CREDS_PK && e.partitionKey !== KEYS_PK) continue;
        const list = byPartition.get(e.partitionKey!) ?? [];
        list.push(e.rowKey!);
        byPartition.set(e.partitionKey!, list);
      }
      for (const [partitionKey, rowKeys] of byPartition) {
        for (let i = 0; i < rowKeys.length; i += 100) {
          await client.submitTransaction(rowKeys.slice(i, i + 100).map((rowKey): TransactionAction => ['delete', { partitionKey, rowKey }]));
        }
      }
      absent.clear();
      creds = initAuthCreds();
    },
  };
}
