// The static page's link to its engine: a Web Worker (worker*.js with kernel.c's WebAssembly build)
// behind the WebSocket interface the page uses for the server (send, onopen, onmessage, onclose,
// readyState). The build puts the worker's source, the module's bytes (base64) and its config in
// window.actlabStatic.
import { $, S, setError } from "./state.js";
import { simdSupported } from "./kernel.js";

const NEEDS = "this page trains in WebAssembly with 128-bit SIMD, which this browser does not run: use a current " +
  "Chrome, Edge, Firefox or Safari (16.4 or newer), or pip install actlab and run `actlab play`";

export function staticSocket() {
  const A = window.actlabStatic;
  if (!simdSupported() || typeof DecompressionStream !== "function") { setError(NEEDS); return null; }
  const url = URL.createObjectURL(new Blob([A.worker], { type: "text/javascript" }));
  const worker = new Worker(url), helper = new Worker(url), link = new MessageChannel();  // the helper: a compared run's core
  const sock = { readyState: 0, binaryType: "arraybuffer", onopen: null, onmessage: null, onclose: null,
    send(text) { worker.postMessage(text); } };
  worker.onmessage = (ev) => {
    const d = ev.data;
    if (d instanceof ArrayBuffer) { sock.onmessage({ data: d }); return; }
    if (d.type === "export") { download(`actlab-play-seed${d.seed}.json`, JSON.stringify(d.json, null, 1)); return; }
    sock.onmessage({ data: JSON.stringify(d) });
    if (d.type === "hello") { sock.readyState = 1; if (sock.onopen) sock.onopen(); }
  };
  worker.onerror = (e) => { e.preventDefault(); setError(`the page's engine stopped (${e.message}): reload the page`); };
  const wasm = () => Uint8Array.from(atob(A.wasm), (c) => c.charCodeAt(0));
  helper.onerror = (e) => { e.preventDefault(); setError(`the compared run's engine stopped (${e.message}): reload the page`); };
  helper.postMessage({ type: "init", role: "helper", config: A.config, wasm: wasm(), gzip: true, port: link.port2 }, [link.port2]);
  worker.postMessage({ type: "init", config: A.config, wasm: wasm(), gzip: true, port: link.port1 }, [link.port1]);
  return sock;
}

// the export links: the selected seed's parameters as JSON from the engine; the .pt2 model needs torch
export function bindStaticExport() {
  $("footer").textContent = "Trains every seed at once in this browser: actlab's training step (C, compiled to WebAssembly) in a " +
    "Web Worker; nothing is sent anywhere. URL keys are TensorFlow Playground's, so its links open here. The audit, exact " +
    "regions, hidden space, Signal view and other activations: pip install actlab, then `actlab play`.";
  $("exportJson").removeAttribute("href");
  $("exportJson").onclick = (ev) => { ev.preventDefault(); if (S.ws) S.ws.send(JSON.stringify({ type: "export" })); };
  $("exportPt2").replaceWith(document.createTextNode("model (.pt2): `actlab play` (torch.export, in Python)"));
}

function download(name, text) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  a.download = name; document.body.appendChild(a); a.click(); a.remove();
}
