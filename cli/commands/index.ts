/**
 * The command table. A new command is one file in this folder exporting a Command (see
 * ../command.ts; ../leaf-command.ts and ../command-group.ts build one) plus one line here.
 */
import type { Command } from '../command.js';
import { openApiKeyStore, openLinkedUserStore } from '../storage.js';
import { apiKeyCommand } from './apikey.js';
import { usersCommand } from './users.js';
import { readProcessStdin, sendCommand } from './send.js';

export const COMMANDS: readonly Command[] = [
  apiKeyCommand({ openStore: openApiKeyStore }),
  usersCommand({ openStore: openLinkedUserStore }),
  sendCommand({ readStdin: readProcessStdin }),
];
