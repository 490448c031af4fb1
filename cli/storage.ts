/**
 * The stores the CLI administers, opened from the environment exactly as the services open them
 * (loadConfig), so a key created here hashes with the same pepper the API checks against.
 */
import { createApiKeyStore, type ApiKeyStore } from '../shared/api-keys.js';
import { loadConfig } from '../shared/config.js';
import { createLinkedUserStore, type LinkedUserStore } from '../shared/linked-users.js';
import { createTableStore } from '../shared/table-store.js';
import { CommandFailed } from './command.js';

export function openApiKeyStore(env: NodeJS.ProcessEnv): ApiKeyStore {
  const config = loadConfig(env);
  if (!config.apiKeyPepper) {
    throw new CommandFailed('WHATSAPP_API_KEY_PEPPER is not set. Set it to the value the API uses (for `npm start`, load .data/dev.env).');
  }
  return createApiKeyStore(createTableStore(config.tablesConnection), config.apiKeyPepper);
}

export function openLinkedUserStore(env: NodeJS.ProcessEnv): LinkedUserStore {
  return createLinkedUserStore(createTableStore(loadConfig(env).tablesConnection));
}
