export type Logger = (event: string, details?: unknown) => void;

export const silentLogger: Logger = () => {};

export function makeLogger(debug: boolean | Logger | undefined): Logger {
  if (typeof debug === 'function') {
    // A logger that throws is an application bug; it must not break the connection it is watching.
    return (event, details) => {
      try {
        debug(event, details);
      } catch {
        // ignored on purpose
      }
    };
  }
  if (!debug) return silentLogger;
  return (event, details) => {
    if (details === undefined) console.debug(`[switchboard] ${event}`);
    else console.debug(`[switchboard] ${event}`, details);
  };
}

/** A short summary of a frame for debug logs: never the whole payload, which may be large or private. */
export function summarize(message: unknown): string {
  let text: string;
  try {
    // MessagePack data may hold bigints (JSON.stringify throws on them) and bytes (shown as their length).
    text =
      JSON.stringify(message, (_key, value) =>
        typeof value === 'bigint' ? `${value}n` : value instanceof Uint8Array ? `<${value.length} bytes>` : value,
      ) ?? String(message);
  } catch {
    text = String(message);
  }
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}
