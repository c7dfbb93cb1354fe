/** Fire-and-forget writes of one operation: none can reject unhandled, and `settle()` surfaces the first failure. */
export class PendingWrites {
  readonly #all: Promise<unknown>[] = [];

  add(write: Promise<unknown>): void {
    write.catch(() => {});
    this.#all.push(write);
  }

  async settle(): Promise<void> {
    await Promise.all(this.#all);
  }
}
