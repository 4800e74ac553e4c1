// Line charts drawn as SVG, with no library: a chart keeps a bounded window of samples
// per series and redraws itself when a sample is added.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#1f6feb", "#e5534b", "#2da44e", "#bf8700", "#8250df", "#1b7c83", "#cf222e", "#57606a"];

class LineChart {
  // `container` receives the SVG and its legend; `unit` is appended to the legend values.
  constructor(container, { title, unit = "", maxPoints = 120 }) {
    this.maxPoints = maxPoints;
    this.unit = unit;
    this.series = new Map();
    container.classList.add("chart");
    const heading = document.createElement("h2");
    heading.textContent = title;
    this.svg = document.createElementNS(SVG, "svg");
    this.svg.setAttribute("viewBox", "0 0 600 200");
    this.svg.setAttribute("preserveAspectRatio", "none");
    this.legend = document.createElement("div");
    this.legend.className = "legend";
    container.append(heading, this.svg, this.legend);
  }

  // Adds the values of one moment: an object from series name to number.
  add(time, values) {
    for (const [name, value] of Object.entries(values)) {
      if (!this.series.has(name)) {
        this.series.set(name, []);
      }
    }
    for (const [name, points] of this.series) {
      points.push([time, values[name] ?? 0]);
      if (points.length > this.maxPoints) {
        points.shift();
      }
    }
    this.draw();
  }

  // Sets a series' past points ([time, value], oldest first), such as a history the
  // server kept from before the page was opened.
  seed(name, points) {
    this.series.set(name, points.slice(-this.maxPoints));
    this.draw();
  }

  draw() {
    const width = 600, height = 200, pad = 4;
    const all = [...this.series.values()].flat();
    const t0 = Math.min(...all.map(p => p[0]));
    const t1 = Math.max(...all.map(p => p[0]));
    const top = Math.max(1, ...all.map(p => p[1]));
    const x = t => (t1 === t0 ? width : pad + (t - t0) / (t1 - t0) * (width - 2 * pad));
    const y = v => height - pad - v / top * (height - 2 * pad);
    this.svg.replaceChildren();
    for (const fraction of [0.25, 0.5, 0.75]) {
      const grid = document.createElementNS(SVG, "line");
      grid.setAttribute("x1", 0);
      grid.setAttribute("x2", width);
      grid.setAttribute("y1", y(top * fraction));
      grid.setAttribute("y2", y(top * fraction));
      grid.setAttribute("stroke", "#eaeef2");
      this.svg.append(grid);
    }
    this.legend.replaceChildren();
    let index = 0;
    for (const [name, points] of this.series) {
      const colour = PALETTE[index++ % PALETTE.length];
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("points", points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" "));
      line.setAttribute("fill", "none");
      line.setAttribute("stroke", colour);
      line.setAttribute("stroke-width", "2");
      line.setAttribute("vector-effect", "non-scaling-stroke");
      line.dataset.series = name;
      this.svg.append(line);
      const latest = points.length ? points[points.length - 1][1] : 0;
      const entry = document.createElement("span");
      entry.dataset.series = name;
      entry.dataset.value = String(latest);
      const swatch = document.createElement("i");
      swatch.style.background = colour;
      entry.append(swatch, `${name}: ${formatNumber(latest)}${this.unit}`);
      this.legend.append(entry);
    }
    const scale = document.createElement("span");
    scale.textContent = `max ${formatNumber(top)}${this.unit}`;
    this.legend.append(scale);
  }
}

function formatNumber(value) {
  if (Math.abs(value) >= 100 || Number.isInteger(value)) {
    return Math.round(value).toLocaleString("en");
  }
  return value.toFixed(1);
}
