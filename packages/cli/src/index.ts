/**
 * @trainyard/cli — the `trainyard` command (docs/cli.md) and the small api client it is
 * built on. `run(argv, io)` runs a command line and returns its exit code.
 *
 *   const client = new ApiClient({ baseUrl: 'http://127.0.0.1:8080', apiKey: process.env.TRAINYARD_API_KEY });
 *   const { job } = await client.submit(spec);
 *   const state = await follow(client, job.id, (event) => console.log(formatEvent(event)));
 */
export { type CliIo, commandUsage, DEFAULT_API_URL, EXIT, follow, run, usage } from './cli.js';
export {
  ApiClient,
  type ApiClientOptions,
  ApiError,
  type ApiIssue,
  ConnectionError,
  parseEvent,
  type WorkerView,
} from './client.js';
export { formatEvent, formatOutcome, jobsTable, table, workersTable } from './format.js';
