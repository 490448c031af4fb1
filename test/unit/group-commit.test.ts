/**
 * The group committer alone, with a commit function that records what it is given: what shares a
 * transaction, what waits, and how a lingering write rides along with the next transaction of its
 * partition (or leaves on its own when none comes).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createGroupCommitter, MAX_ACTIONS_PER_TRANSACTION } from '../../shared/group-commit.js';

interface Item {
  pk: string;
  key: string;
  actions: number;
}

function recorder(commitMs = 5) {
  const transactions: string[][] = [];
  const committer = createGroupCommitter<Item>({
    partitionOf: (i) => i.pk,
    actionsOf: (i) => i.actions,
    keyOf: (i) => i.key,
    async commit(group) {
      transactions.push(group.map((i) => i.key));
      await sleep(commitMs);
    },
  });
  return { committer, transactions };
}
const item = (pk: string, key: string, actions = 1): Item => ({ pk, key, actions });

test('items added in one turn share a transaction per partition', async () => {
  const { committer, transactions } = recorder();
  committer.add(item('a', '1'));
  committer.add(item('a', '2'));
  committer.add(item('b', '3'));
  await sleep(20);
  expect(transactions).toEqual([['1', '2'], ['3']]);
  expect(committer.pending()).toBe(0);
});

test('what arrives while a transaction is in flight goes in the next one; the same key never twice in one', async () => {
  const { committer, transactions } = recorder(20);
  committer.add(item('a', '1'));
  await sleep(5); // '1' is in flight
  committer.add(item('a', '2'));
  committer.add(item('a', '3'));
  committer.add(item('a', '3'));
  await sleep(80);
  expect(transactions[0]).toEqual(['1']);
  expect(transactions.slice(1)).toEqual([['2', '3'], ['3']]);
});

test('one transaction per partition in flight: the next waits for it to land, another partition does not', async () => {
  const inFlight = new Map<string, number>();
  let most = 0;
  const events: string[] = [];
  const committer = createGroupCommitter<Item>({
    partitionOf: (i) => i.pk,
    actionsOf: (i) => i.actions,
    keyOf: (i) => i.key,
    async commit(group) {
      const pk = group[0]!.pk;
      inFlight.set(pk, (inFlight.get(pk) ?? 0) + 1);
      most = Math.max(most, inFlight.get(pk)!);
      events.push(`start ${group.map((i) => i.key).join(',')}`);
      await sleep(20);
      events.push(`end ${group.map((i) => i.key).join(',')}`);
      inFlight.set(pk, inFlight.get(pk)! - 1);
    },
  });
  committer.add(item('a', '1'));
  await sleep(5); // '1' is in flight; what follows arrives in later turns
  committer.add(item('a', '2'));
  await sleep(1);
  committer.add(item('a', '3'));
  committer.add(item('b', '4'));
  await sleep(80);
  expect(most).toBe(1);
  expect(events).toEqual(['start 1', 'start 4', 'end 1', 'start 2,3', 'end 4', 'end 2,3']);
  expect(committer.pending()).toBe(0);
});

test('no transaction exceeds the action limit', async () => {
  const { committer, transactions } = recorder();
  for (let i = 0; i < 30; i++) committer.add(item('a', String(i), 8)); // 240 actions
  await sleep(40);
  expect(transactions.map((t) => t.length)).toEqual([12, 12, 6]);
  expect(Math.max(...transactions.map((t) => t.length * 8))).toBeLessThanOrEqual(MAX_ACTIONS_PER_TRANSACTION);
});

test('a lingering item rides with the next transaction of its partition, not of another', async () => {
  const { committer, transactions } = recorder();
  committer.add(item('a', 'outcome'), 10_000);
  committer.add(item('b', 'other'));
  await sleep(15);
  expect(transactions).toEqual([['other']]);
  expect(committer.pending()).toBe(1);
  committer.add(item('a', 'insert', 3));
  await sleep(15);
  expect(transactions).toEqual([['other'], ['insert', 'outcome']]);
  expect(committer.pending()).toBe(0);
});

test('a lingering item leaves on its own when nothing else comes, and at once on flushLingering()', async () => {
  const { committer, transactions } = recorder();
  committer.add(item('a', 'late'), 30);
  committer.add(item('b', 'later'), 60_000); // another partition: 'late' leaving does not take it
  await sleep(10);
  expect(transactions).toEqual([]);
  await sleep(50);
  expect(transactions).toEqual([['late']]);
  committer.flushLingering();
  await sleep(15);
  expect(transactions).toEqual([['late'], ['later']]);
});
