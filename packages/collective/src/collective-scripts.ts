import { LuaScript } from '@trainyard/core';

/** Return codes of READER_DONE. */
export enum ReaderDoneResult {
  /** Other readers have yet to finish; the counter's TTL was refreshed. */
  WAITING = 0,
  /** This was the last reader: the data keys and the counter are deleted. */
  DELETED = 1,
}

// Called by each reader of a published value once it holds the value.
// KEYS: 1 reader counter (string), 2.. data keys to delete with it (all in the counter's hash slot)
// ARGV: 1 number of readers, 2 TTL in ms for the counter
// Returns: 1 (ReaderDoneResult.DELETED) when this call was the last reader and deleted every key,
//          0 (ReaderDoneResult.WAITING) otherwise
export const READER_DONE = new LuaScript(
  'collective-reader-done',
  `
local n = redis.call('INCR', KEYS[1])
if n >= tonumber(ARGV[1]) then
  redis.call('DEL', unpack(KEYS))
  return 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
`,
);
