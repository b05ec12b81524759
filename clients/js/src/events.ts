// The client-level events (`state`, `error`, `reset`) of every client flavour: one listener registry, one rule for a
// throwing listener (it becomes an `error` event, never a crash of the client's own loop).

export class ClientEvents {
  private readonly listeners = new Map<string, Set<(value: unknown) => void>>();

  on(event: string, listener: (value: never) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const callback = listener as (value: unknown) => void;
    set.add(callback);
    return () => set?.delete(callback);
  }

  emit(event: string, value: unknown): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        listener(value);
      } catch (error) {
        if (event !== 'error') this.emit('error', error);
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
