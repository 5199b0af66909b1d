// A binary frame of the playground's protocol read back in the Node drivers: its JSON header and its
// per-seed sections (losses and states; a non-finite loss as null, as JSON carries it).
export function decodeFrame(buf) {
  const n = new DataView(buf).getUint32(0, true), h = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
  const sec = {};
  for (const s of h.sections) {
    const count = s.shape.reduce((a, b) => a * b, 1), T = s.dtype === "uint8" ? Uint8Array : Float32Array;
    if (/_(loss|test_loss|state)$/.test(s.name)) sec[s.name] = Array.from(new T(buf, 4 + n + s.offset, count), (v) => (Number.isFinite(v) ? v : null));
  }
  return [h, sec];
}
