/**
 * Every key of one collective group, built from the group prefix that core's
 * `keys.collectiveGroup(jobId, generation)` returns. Nothing else in this package
 * concatenates key strings.
 *
 * Operation `seq` of the group uses, for all-reduce chunk `c`:
 *   <group>:{<id>.<seq>.<c>}:in    list   contributions to the chunk's owner (frame header, payload pairs)
 *   <group>:{<id>.<seq>.<c>}:out   stream the owner's reduced chunk (or an error entry)
 *   <group>:{<id>.<seq>.<c>}:done  string readers of :out that are done (the last one deletes both)
 * and for allGather / barrier / rendezvous / broadcast:
 *   <group>:{<id>.<seq>}:data      stream one entry per rank (or the root's entry)
 *   <group>:{<id>.<seq>}:done      string readers that are done
 * where <id> is the group's last `:`-separated segment (`<jobId>.<generation>`). The hash
 * tag holds the sequence number and the chunk, so a Redis Cluster spreads the chunks of
 * one all-reduce over its shards, while the keys one Lua script touches share a slot.
 */
export interface CollectiveKeys {
  readonly group: string;
  chunkInput(seq: number, chunk: number): string;
  chunkOutput(seq: number, chunk: number): string;
  chunkDone(seq: number, chunk: number): string;
  opData(seq: number): string;
  opDone(seq: number): string;
}

export function createCollectiveKeys(group: string): CollectiveKeys {
  if (/[{}\s]/.test(group) || group.length === 0)
    throw new Error(`invalid collective group ${JSON.stringify(group)}`);
  const id = group.slice(group.lastIndexOf(':') + 1) || 'g';
  const chunk = (seq: number, c: number) => `${group}:{${id}.${seq}.${c}}`;
  const op = (seq: number) => `${group}:{${id}.${seq}}`;
  return Object.freeze({
    group,
    chunkInput: (seq: number, c: number) => `${chunk(seq, c)}:in`,
    chunkOutput: (seq: number, c: number) => `${chunk(seq, c)}:out`,
    chunkDone: (seq: number, c: number) => `${chunk(seq, c)}:done`,
    opData: (seq: number) => `${op(seq)}:data`,
    opDone: (seq: number) => `${op(seq)}:done`,
  });
}
