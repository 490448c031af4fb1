/**
 * The logger the sidecar hands Baileys (sidecar/baileys-logger.ts), on a real pino logger writing
 * to a real stream: Baileys' "DANGER: DISABLING ALL SYNC" warning comes out at debug, in children
 * too; every other warning stays a warning.
 */
import { Writable } from 'node:stream';
import { createBaileysLogger } from '../sidecar/baileys-logger.js';
import { createLogger } from '../shared/logger.js';

// The text Baileys 7.0.0-rc14 logs (lib/Socket/socket.js) on every socket when history sync is off.
const DANGER =
  '⚠️ DANGER: DISABLING ALL SYNC BY shouldSyncHistoryMsg PREVENTS BAILEYS FROM ACCESSING INITIAL LID MAPPINGS, LEADING TO INSTABILIY AND SESSION ERRORS';

function capture(level: 'warn' | 'debug') {
  const lines: Array<{ level: number; msg: string; class?: string }> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as (typeof lines)[number]);
      done();
    },
  });
  return { log: createBaileysLogger(createLogger({ level, name: 'sidecar', destination })), lines };
}

test('at warn (the sidecar level for Baileys) the DANGER line is dropped; other warnings are kept', () => {
  const { log, lines } = capture('warn');
  log.warn(DANGER);
  log.warn({ trace: 'x' }, DANGER);
  log.child({ class: 'socket' }).warn(DANGER);
  log.warn('connection errored');
  log.child({ class: 'socket' }).warn({ code: 1 }, 'another warning');
  expect(lines.map((l) => [l.level, l.msg])).toEqual([
    [40, 'connection errored'],
    [40, 'another warning'],
  ]);
});

test('at debug it is there, at debug level (20), children included', () => {
  const { log, lines } = capture('debug');
  log.warn(DANGER);
  log.child({ class: 'socket' }).child({ sub: 1 }).warn(DANGER);
  expect(lines.map((l) => l.level)).toEqual([20, 20]);
  expect(lines[1]).toMatchObject({ class: 'socket', msg: DANGER });
  // The wrapper is still a full logger for Baileys: level and the other methods pass through.
  expect(log.level).toBe('debug');
  log.error('still an error');
  expect(lines.at(-1)).toMatchObject({ level: 50, msg: 'still an error' });
});
