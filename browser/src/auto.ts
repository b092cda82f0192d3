// The script-tag form of solemate-performance/browser, served by the server at /rum.js:
//   <script src="https://perf.example.com/rum.js" data-service="shop" defer></script>
// It reports to the server it was loaded from (or data-endpoint), web-vitals bundled in.
import { startRum } from './rum.js';

const script = document.currentScript as HTMLScriptElement | null;
if (script) {
  const d = script.dataset;
  startRum({ endpoint: d.endpoint ?? new URL('/v1/rum', script.src).href, service: d.service, sampleRate: d.sampleRate === undefined ? 1 : Number(d.sampleRate) });
}
