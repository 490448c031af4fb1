// Jest runs in ESM mode (NODE_OPTIONS=--experimental-vm-modules, set by scripts/test.mjs) because
// Baileys is ESM-only and the loopback WhatsApp peer in test/ uses it in-process.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.test.json' }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30000,
  maxWorkers: 2,
};
