// emitter: typed event handlers. A handler that throws does not stop the
// client or the other handlers: its error is thrown again on a fresh task,
// where it shows as uncaught, as a throwing DOM event listener's would.

export type Handler<A extends unknown[]> = (...args: A) => void;

export class Emitter<E extends { [K in keyof E]: unknown[] }> {
  private readonly handlers: { [K in keyof E]?: Set<Handler<E[K]>> } = {};

  /** on adds a handler for event and returns the function that removes it. */
  on<K extends keyof E>(event: K, fn: Handler<E[K]>): () => void {
    const set = (this.handlers[event] ??= new Set());
    set.add(fn);
    return () => this.off(event, fn);
  }

  /** off removes a handler added with on. */
  off<K extends keyof E>(event: K, fn: Handler<E[K]>): void {
    this.handlers[event]?.delete(fn);
  }

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const set = this.handlers[event];
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        setTimeout(() => {
          throw err;
        });
      }
    }
  }
}
