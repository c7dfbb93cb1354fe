import { run } from './cli.js';

// The `trainyard` command: node --import tsx packages/cli/src/main.ts <command> ...
// (bin/trainyard.mjs runs this file). The exit code is set, not forced, so that output
// written to a pipe is flushed before the process ends.
process.exitCode = await run(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
});
