// Incremental text/event-stream parser (WHATWG HTML "event stream interpretation"), fed with decoded text chunks
// as they arrive. Comments are reported separately because they are the SSE heartbeat.

export interface SseEvent {
  event: string;
  data: string;
  id: string | null;
}

export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private eventName = '';
  private id: string | null = null;
  private sawCarriageReturn = false;

  constructor(
    private readonly onEvent: (event: SseEvent) => void,
    private readonly onComment: () => void = () => {},
  ) {}

  push(chunk: string): void {
    let text = chunk;
    // A CRLF split across two chunks must not be read as two line ends.
    if (this.sawCarriageReturn && text.startsWith('\n')) text = text.slice(1);
    this.sawCarriageReturn = text.endsWith('\r');
    this.buffer += text;
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const char = this.buffer[i];
      if (char !== '\n' && char !== '\r') continue;
      this.line(this.buffer.slice(start, i));
      if (char === '\r' && this.buffer[i + 1] === '\n') i++;
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) {
        this.onEvent({ event: this.eventName || 'message', data: this.data.join('\n'), id: this.id });
      }
      this.data = [];
      this.eventName = '';
      return;
    }
    if (line.startsWith(':')) {
      this.onComment();
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.eventName = value;
    else if (field === 'id') this.id = value;
    // `retry` is ignored on purpose: the client owns reconnection timing (backoff), not the stream.
  }
}
