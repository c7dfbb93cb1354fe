/** The job state machine (DESIGN.md, "The job record and its states"). */
export const JOB_STATES = [
  'QUEUED',
  'PLACED',
  'RUNNING',
  'RESTARTING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL_STATES: readonly JobState[] = Object.freeze(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/** Allowed predecessors of each state. A terminal state has no successor. */
export const TRANSITIONS: Readonly<Record<JobState, readonly JobState[]>> = Object.freeze({
  QUEUED: [],
  PLACED: ['QUEUED', 'RESTARTING'],
  RUNNING: ['PLACED'],
  RESTARTING: ['PLACED', 'RUNNING'],
  SUCCEEDED: ['RUNNING'],
  FAILED: ['QUEUED', 'PLACED', 'RUNNING', 'RESTARTING'],
  CANCELLED: ['QUEUED', 'PLACED', 'RUNNING', 'RESTARTING'],
});

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.includes(state);
}

export function canTransition(from: JobState, to: JobState): boolean {
  return TRANSITIONS[to].includes(from);
}

/** States in which a generation's ranks run (a rank in any other state stops). */
export const LIVE_STATES: readonly JobState[] = Object.freeze(['PLACED', 'RUNNING']);

export function isLive(state: JobState): boolean {
  return LIVE_STATES.includes(state);
}
