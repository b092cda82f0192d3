// One HTTP POST at a time to one receiver, over node:http(s) with an agent of our own:
// - one socket at most (maxSockets 1, kept alive between exports, unref'd while idle so it never
//   holds the process open); a request that times out or is aborted destroys its socket, so a
//   hanging receiver costs one socket, not one per attempt;
// - a deadline per request from connect to the end of the answer, and at most MAX_ANSWER_BYTES
//   of an answer read;
// - not fetch: its first call loads undici on the main thread (about 2 MB of heap and 60–400 ms
//   for a first POST on Node 20.20 here, against 0.2 MB and 10 ms for http.request); it shares the
//   app's global dispatcher; and it opens a fresh idle connection after each aborted request;
// - http.request is taken before instrumentHttpClient wraps it, so the SDK's own exports are not
//   measured as the app's outgoing calls (OpenTelemetry SDKs suppress their exporters' own
//   instrumentation the same way).
import http from 'node:http';
import https from 'node:https';

const httpRequest = http.request;
const httpsRequest = https.request;

/** Bytes of an answer kept (an OTLP answer is a partial success at most); the rest is discarded. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** the body when it fits in MAX_ANSWER_BYTES, else empty */
  body: Buffer;
}

export class Transport {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private current: http.ClientRequest | undefined;

  constructor(url: string) {
    this.url = new URL(url);
    const options = { keepAlive: true, maxSockets: 1, maxFreeSockets: 1 };
    this.agent = this.url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
  }

  /** Resolves with the answer, or rejects (network error, timeout, abort) — never throws synchronously. */
  post(body: Uint8Array, headers: Record<string, string>, timeoutMs: number): Promise<Answer> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, answer?: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.current = undefined;
        if (err) reject(err);
        else resolve(answer!);
      };
      const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = request(this.url, { method: 'POST', agent: this.agent, headers: { ...headers, 'content-length': String(body.byteLength) } }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const answer = (body: Buffer) => finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body });
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_ANSWER_BYTES) return void chunks.push(c);
          answer(Buffer.alloc(0)); // the status is what counts; the socket goes with the rest of the answer
          res.destroy();
        });
        res.on('end', () => answer(Buffer.concat(chunks)));
        res.on('error', (e) => finish(e));
        res.on('close', () => finish(new Error('the answer was cut off')));
      });
      // after the request exists: a bad header throws above and rejects this promise; finish() runs
      // only from events, after this line
      const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { name: 'TimeoutError' })), timeoutMs);
      this.current = req;
      req.on('error', (e) => finish(e));
      req.end(body);
    });
  }

  /** Ends the request in flight, if any (its promise rejects with an AbortError). */
  abort(): void {
    this.current?.destroy(Object.assign(new Error('export aborted at shutdown'), { name: 'AbortError' }));
  }

  /** Closes the kept-alive socket. */
  close(): void {
    this.agent.destroy();
  }
}
