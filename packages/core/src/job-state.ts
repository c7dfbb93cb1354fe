/** The job state machine (DESIGN.md, "The job record and its states"). */
export const JOB_STATES = ['QUEUED', 'PLACED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL_STATES: readonly JobState[] = Object.freeze(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/** Allowed predecessors of each state. A terminal state has no successor. */
export const TRANSITIONS: Readonly<Record<JobState, readonly JobState[]>> = Object.freeze({
  QUEUED: [],
  PLACED: ['QUEUED'],
  RUNNING: ['PLACED'],
  SUCCEEDED: ['RUNNING'],
  FAILED: ['QUEUED', 'PLACED', 'RUNNING'],
  CANCELLED: ['QUEUED', 'PLACED', 'RUNNING'],
});

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.includes(state);
}

export function canTransition(from: JobState, to: JobState): boolean {
  return TRANSITIONS[to].includes(from);
}
