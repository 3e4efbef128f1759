// The counts histogram: an SVG bar chart of the merged counts Python sends (top outcomes plus
// "other"), the choice of experiment (all of them, or one) and, for a sweep, of its point
// (points.ts).
import { element, indexInput } from "./dom";
import {
  type Histogram as HistogramData,
  isHistogram,
  type Model,
  type Send,
  sweepOf,
} from "./model";
import { createPointPicker } from "./points";

export type Histogram = {
  update(histogram: Model["histogram"] | undefined, numExperiments: number): void;
  cleanup(): void;
};

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 480;
const ROW = 18;
const BAR = 14;
const COUNT_WIDTH = 120;
const MAX_LABEL = 24;

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) {
    el.setAttribute(key, String(value));
  }
  return el;
}

function label(text: string): string {
  return text.length > MAX_LABEL ? `${text.slice(0, MAX_LABEL - 1)}…` : text;
}

/** The chart for one histogram value; exported for tests. */
export function buildChart(data: HistogramData): SVGSVGElement {
  const rows: Array<{ key: string; count: number; other: boolean }> = data.bars.map(
    ([key, count]) => ({ key, count, other: false }),
  );
  if (data.other > 0) {
    rows.push({ key: "other", count: data.other, other: true });
  }
  const longest = rows.reduce((n, row) => Math.max(n, label(row.key).length), 1);
  const labelWidth = Math.min(200, 8 + 7.5 * longest);
  const barWidth = WIDTH - labelWidth - COUNT_WIDTH;
  const max = rows.reduce((n, row) => Math.max(n, row.count), 0);
  const total = data.total > 0 ? data.total : rows.reduce((n, row) => n + row.count, 0);
  const height = Math.max(ROW, rows.length * ROW);

  const chart = svg("svg", {
    class: "qjm-chart",
    width: WIDTH,
    height,
    viewBox: `0 0 ${WIDTH} ${height}`,
    role: "img",
  });
  const title = svg("title", {});
  title.textContent = `Counts of ${rows.length} outcomes`;
  chart.append(title);
  rows.forEach((row, i) => {
    const y = i * ROW;
    const group = svg("g", { class: row.other ? "qjm-bar qjm-bar-other" : "qjm-bar" });
    const name = svg("text", {
      class: "qjm-bar-label",
      x: labelWidth - 6,
      y: y + BAR / 2 + 1,
      "text-anchor": "end",
      "dominant-baseline": "middle",
    });
    name.textContent = label(row.key);
    const full = svg("title", {});
    full.textContent = `${row.key}: ${row.count}`;
    const width = max > 0 ? (barWidth * row.count) / max : 0;
    const rect = svg("rect", {
      class: "qjm-bar-rect",
      x: labelWidth,
      y: y + (ROW - BAR) / 2,
      width: Math.max(width, row.count > 0 ? 1 : 0),
      height: BAR,
    });
    const percent = total > 0 ? ` (${((100 * row.count) / total).toFixed(1)}%)` : "";
    const count = svg("text", {
      class: "qjm-bar-count",
      x: labelWidth + width + 4,
      y: y + BAR / 2 + 1,
      "dominant-baseline": "middle",
    });
    count.textContent = `${row.count.toLocaleString("en-US")}${percent}`;
    group.append(full, name, rect, count);
    chart.append(group);
  });
  return chart;
}

/** What the chart shows, for its caption: "All experiments", "Experiment 3 · point 5", … */
function describe(data: HistogramData): string {
  if (data.experiment < 0) {
    return "All experiments";
  }
  const sweep = sweepOf(data);
  if (sweep.numPoints <= 0) {
    return `Experiment ${data.experiment}`;
  }
  const which =
    sweep.point >= 0
      ? `point ${sweep.point}`
      : `all ${sweep.numPoints.toLocaleString("en-US")} points`;
  return `Experiment ${data.experiment} · ${which}`;
}

export function createHistogram(parent: HTMLElement, send: Send): Histogram {
  const root = element("section", "qjm-histogram");
  const bar = element("div", "qjm-histogram-controls");
  const select = element("select", "qjm-experiment-mode");
  select.setAttribute("aria-label", "Experiments shown");
  const all = document.createElement("option");
  all.value = "all";
  all.textContent = "All experiments";
  const one = document.createElement("option");
  one.value = "one";
  one.textContent = "Experiment…";
  select.append(all, one);
  const input = indexInput("number", "qjm-experiment-index", "Experiment index");
  input.hidden = true;
  const caption = element("span", "qjm-histogram-caption");
  bar.append(select, input);
  const points = createPointPicker(bar, send);
  bar.append(caption);
  const chart = element("div", "qjm-histogram-chart");
  root.append(bar, chart);
  parent.append(root);

  let numExperiments = 0;

  function chosen(): number {
    if (select.value !== "one") {
      return -1;
    }
    const value = Math.trunc(Number(input.value));
    const index = Number.isFinite(value) ? Math.min(Math.max(value, 0), numExperiments - 1) : 0;
    input.value = String(Math.max(index, 0));
    return Math.max(index, 0);
  }

  function onChange(): void {
    input.hidden = select.value !== "one";
    points.drop();
    send({ type: "show_experiment", index: chosen() });
  }
  // Chromium fires no change on Enter in a number input, only when it loses focus: Enter
  // sends at once, and that later change event does not send the same experiment again (it
  // would show all its points again).
  let entered: string | null = null;
  function onInputChange(): void {
    const again = entered !== null && input.value === entered;
    entered = null;
    if (!again) {
      onChange();
    }
  }
  function onInputKeydown(event: KeyboardEvent): void {
    if (event.key === "Enter") {
      onChange();
      entered = input.value;
    }
  }
  select.addEventListener("change", onChange);
  input.addEventListener("change", onInputChange);
  input.addEventListener("keydown", onInputKeydown);

  function update(value: Model["histogram"] | undefined, experiments: number): void {
    numExperiments = experiments;
    input.max = String(Math.max(0, experiments - 1));
    one.disabled = experiments <= 0;
    const data = isHistogram(value) ? value : null;
    if (data !== null && document.activeElement !== input && document.activeElement !== select) {
      select.value = data.experiment >= 0 ? "one" : "all";
      input.hidden = data.experiment < 0;
      if (data.experiment >= 0) {
        input.value = String(data.experiment);
      }
    }
    points.update(data);
    const which = data === null ? "All experiments" : describe(data);
    if (data === null || (data.bars.length === 0 && data.other <= 0)) {
      caption.textContent = `${which} · no counts yet`;
      chart.replaceChildren();
      return;
    }
    caption.textContent = `${which} · ${data.total.toLocaleString("en-US")} shots`;
    chart.replaceChildren(buildChart(data));
  }

  update(undefined, 0);

  return {
    update,
    cleanup(): void {
      select.removeEventListener("change", onChange);
      input.removeEventListener("change", onInputChange);
      input.removeEventListener("keydown", onInputKeydown);
      points.cleanup();
    },
  };
}
