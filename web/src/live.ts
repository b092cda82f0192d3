// The live stream (GET /api/stream, Server-Sent Events). Read with fetch rather than EventSource so
// the token goes in a header; a dropped connection is retried with backoff (1 s doubling to 15 s).
export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'off';

export interface LiveMessage {
  type: string;
  [k: string]: unknown;
}

export function connectLive(authHeaders: () => Record<string, string>, onMessage: (m: LiveMessage) => void, onState: (s: LiveState) => void): () => void {
  let stopped = false;
  let controller: AbortController | undefined;
  let delay = 1000;
  const run = async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const res = await fetch('/api/stream', { headers: authHeaders(), signal: controller.signal });
        if (!res.ok || !res.body) throw new Error(`stream: ${res.status}`);
        onState('live');
        delay = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block
              .split('\n')
              .filter((l) => l.startsWith('data:'))
              .map((l) => l.slice(5).trimStart())
              .join('\n');
            if (data) {
              try {
                onMessage(JSON.parse(data) as LiveMessage);
              } catch {
                /* not ours: ignored */
              }
            }
          }
        }
      } catch {
        if (stopped) return;
      }
      if (stopped) return;
      onState('reconnecting');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(15_000, delay * 2);
    }
  };
  onState('connecting');
  void run();
  return () => {
    stopped = true;
    controller?.abort();
    onState('off');
  };
}
