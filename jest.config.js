/** Tests run against package sources (not dist) so `npm test` needs no prior build of the code under test. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/tests'],
  testMatch: ['**/src/**/*.test.ts', '<rootDir>/tests/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  moduleNameMapper: { '^@vqvid/([a-z-]+)$': '<rootDir>/packages/$1/src/index.ts' },
  setupFiles: ['<rootDir>/scripts/jest-setup.js'],
  reporters: ['default', '<rootDir>/scripts/jest-summary-reporter.js'],
  testTimeout: 120000,
  maxWorkers: process.env.CI ? 2 : '50%',
};
