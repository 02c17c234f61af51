/** A small self-contained SVG line chart (no dependency): the loss curve of the demo. */
export function lineChart(points: readonly { x: number; y: number }[], labels: { title: string; x: string; y: string }): string {
  const W = 720,
    H = 400,
    left = 64,
    right = 20,
    top = 40,
    bottom = 52;
  const xs = points.map((p) => p.x),
    ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
  const [y0, y1] = [Math.floor(Math.min(...ys) * 2) / 2, Math.ceil(Math.max(...ys) * 2) / 2];
  const px = (x: number) => left + ((x - x0) / (x1 - x0 || 1)) * (W - left - right);
  const py = (y: number) => top + (1 - (y - y0) / (y1 - y0 || 1)) * (H - top - bottom);
  const yTicks = Array.from({ length: Math.round((y1 - y0) / 0.5) + 1 }, (_, i) => y0 + i * 0.5);
  const xTicks = Array.from({ length: 6 }, (_, i) => x0 + ((x1 - x0) * i) / 5);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15">${esc(labels.title)}</text>`,
    ...yTicks.map(
      (y) =>
        `<line x1="${left}" x2="${W - right}" y1="${py(y)}" y2="${py(y)}" stroke="#ddd"/><text x="${left - 8}" y="${py(y) + 4}" text-anchor="end">${y.toFixed(1)}</text>`,
    ),
    ...xTicks.map((x) => `<text x="${px(x)}" y="${H - bottom + 18}" text-anchor="middle">${Math.round(x)}</text>`),
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${H - bottom}" stroke="black"/><line x1="${left}" x2="${W - right}" y1="${H - bottom}" y2="${H - bottom}" stroke="black"/>`,
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle">${esc(labels.x)}</text>`,
    `<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">${esc(labels.y)}</text>`,
    `<polyline fill="none" stroke="#1f6fb4" stroke-width="1.5" points="${points.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`,
    '</svg>',
  ].join('\n');
}
