// mocha's configuration for `npm test` (and found by mocha from any package directory).
// No `exit: true`: a handle leaked by a test or by role code keeps the process alive, and
// test/helpers/leak-guard.ts (a root-hook plugin) then fails the run with what is still active.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const guard = join(__dirname, 'test/dist/helpers/leak-guard.js');

module.exports = {
  spec: ['packages/*/dist/**/*.test.js', 'test/dist/**/*.test.js'],
  timeout: 120000,
  reporter: 'spec',
  // Built by `npm test`'s pretest (tsc -b test); a package's own test run may come before it is built.
  require: existsSync(guard) ? [guard] : [],
};
