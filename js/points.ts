// The point picker of the histogram: which point of a parameter sweep the chart shows (or all of
// them), with the parameter values of the point shown. Shown only while the histogram is of an
// experiment with points. The `histogram` trait is the truth: this view's own choice stands in
// for it only until Python has answered every show_experiment this view sent.
import { element, indexInput } from "./dom";
import { type Histogram, type Send, type Sweep, sweepOf, unravel } from "./model";

export type PointPicker = {
  update(histogram: Histogram | null): void;
  /** Another experiment was asked for: drop a point picked but not sent yet. */
  drop(): void;
  cleanup(): void;
};

/** While the slider is dragged, at most one show_experiment per this many ms. */
export const POINT_SEND_INTERVAL_MS = 150;
/**
 * Keys a range input moves with. JupyterLab binds them in command mode (move between cells) on
 * any focused element that is not editable, a slider included, so the slider keeps them.
 */
const SLIDER_KEYS = new Set([
  "ArrowLeft",
  "ArrowRight",
  "ArrowUp",
  "ArrowDown",
  "Home",
  "End",
  "PageUp",
  "PageDown",
]);
/** Parameters listed in the values text; the rest are in its tooltip. */
const MAX_VALUES_SHOWN = 8;

/** A parameter value, short: 4 decimals at most, exponent form for very large or small. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) {
    return String(value);
  }
  if (value === 0) {
    return "0";
  }
  const size = Math.abs(value);
  if (size >= 1e5 || size < 1e-3) {
    return value.toExponential(3);
  }
  return String(Number(value.toFixed(4)));
}

export function valuesText(values: ReadonlyArray<[string, number]>, limit?: number): string {
  const shown = limit === undefined ? values : values.slice(0, limit);
  const text = shown.map(([name, value]) => `${name} = ${formatValue(value)}`).join(", ");
  const rest = values.length - shown.length;
  return rest > 0 ? `${text}, … (${rest} more)` : text;
}

function tuple(values: readonly number[]): string {
  return `(${values.join(", ")})`;
}

function clamp(value: number, max: number): number | null {
  const n = Math.trunc(value);
  return Number.isFinite(n) ? Math.min(Math.max(n, 0), max) : null;
}

export function createPointPicker(parent: HTMLElement, send: Send): PointPicker {
  const root = element("div", "qjm-points");
  root.hidden = true;
  const allLabel = element("label", "qjm-all-points-label");
  const all = document.createElement("input");
  all.type = "checkbox";
  all.className = "qjm-all-points";
  all.checked = true;
  allLabel.append(all, document.createTextNode(" All points"));
  const input = indexInput("number", "qjm-point-index", "Point index");
  const slider = indexInput("range", "qjm-point-slider", "Point");
  const count = element("span", "qjm-point-count");
  const multi = element("span", "qjm-point-multi-index");
  const values = element("span", "qjm-point-values");
  root.append(allLabel, input, slider, count, multi, values);
  parent.append(root);

  /** The experiment whose points the picker shows (-1: none) and what Python says of them. */
  let experiment = -1;
  let shown: Sweep = { point: -1, numPoints: 0, shape: [], values: [] };
  /** Points sent for `experiment`, oldest first, that the trait has not shown yet. */
  let sent: number[] = [];
  /** The point the user picked last (-1: all), until the trait catches up; null: none. */
  let draft: number | null = null;
  /** Where the slider and the number input rest while all points are shown: the last point. */
  let resting = 0;
  /** The number input holds text being typed, not yet committed. */
  let typing = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let lastSend = Number.NEGATIVE_INFINITY;

  function cancelTimer(): void {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
  }

  function forget(): void {
    cancelTimer();
    sent = [];
    draft = null;
    typing = false;
  }

  function render(): void {
    const max = Math.max(0, shown.numPoints - 1);
    input.max = String(max);
    slider.max = String(max);
    const point = draft ?? shown.point;
    all.checked = point < 0;
    root.classList.toggle("qjm-all-points-shown", point < 0);
    if (point >= 0) {
      resting = point;
    }
    slider.value = String(Math.min(resting, max));
    if (!typing) {
      input.value = slider.value;
    }
    count.textContent = `of ${shown.numPoints.toLocaleString("en-US")}`;
    const index = point >= 0 && shown.shape.length > 1 ? unravel(point, shown.shape) : null;
    multi.hidden = index === null || shown.shape.reduce((n, d) => n * d, 1) !== shown.numPoints;
    multi.textContent =
      index === null ? "" : `index ${tuple(index)} of shape ${tuple(shown.shape)}`;
    values.hidden = point < 0;
    if (point >= 0 && point === shown.point) {
      values.textContent = valuesText(shown.values, MAX_VALUES_SHOWN);
      values.setAttribute("title", valuesText(shown.values));
    } else {
      values.textContent = point >= 0 ? "…" : "";
      values.removeAttribute("title");
    }
  }

  /** Sends the draft unless Python will show it anyway. */
  function flush(): void {
    timer = null;
    if (draft === null || experiment < 0) {
      return;
    }
    const expected = sent.length > 0 ? sent[sent.length - 1] : shown.point;
    if (draft === expected) {
      if (sent.length === 0) {
        draft = null;
      }
      return;
    }
    sent.push(draft);
    lastSend = Date.now();
    send({ type: "show_experiment", index: experiment, point: draft });
  }

  function pick(point: number, now: boolean): void {
    draft = point;
    render();
    if (now) {
      cancelTimer();
      flush();
    } else if (timer === null) {
      const wait = lastSend + POINT_SEND_INTERVAL_MS - Date.now();
      if (wait <= 0) {
        flush();
      } else {
        timer = setTimeout(flush, wait);
      }
    }
  }

  function max(): number {
    return Math.max(0, shown.numPoints - 1);
  }

  function onSliderInput(): void {
    const point = clamp(Number(slider.value), max());
    if (point !== null) {
      typing = false;
      pick(point, false);
    }
  }
  function onSliderChange(): void {
    const point = clamp(Number(slider.value), max());
    if (point !== null) {
      typing = false;
      pick(point, true);
    }
  }
  function onSliderKeydown(event: Event): void {
    if (
      event instanceof KeyboardEvent &&
      SLIDER_KEYS.has(event.key) &&
      !event.ctrlKey &&
      !event.metaKey &&
      !event.altKey
    ) {
      event.stopPropagation();
    }
  }
  function onInputInput(): void {
    typing = true;
    const point = Number(input.value);
    if (input.value !== "" && Number.isInteger(point) && point >= 0 && point <= max()) {
      slider.value = String(point);
    }
  }
  function onInputChange(): void {
    typing = false;
    const point = clamp(Number(input.value === "" ? Number.NaN : input.value), max());
    if (point === null) {
      render(); // back to what is shown
    } else {
      input.value = String(point);
      pick(point, true);
    }
  }
  function onInputKeydown(event: Event): void {
    // Chromium fires change on blur only; a second commit of the same point sends nothing.
    if (event instanceof KeyboardEvent && event.key === "Enter") {
      onInputChange();
    }
  }
  function onInputBlur(): void {
    if (typing) {
      typing = false;
      render();
    }
  }
  function onAllChange(): void {
    typing = false;
    if (all.checked) {
      pick(-1, true);
    } else {
      pick(clamp(Number(input.value), max()) ?? 0, true);
    }
  }

  const listeners: Array<[HTMLInputElement, string, (event: Event) => void]> = [
    [slider, "keydown", onSliderKeydown],
    [slider, "input", onSliderInput],
    [slider, "change", onSliderChange],
    [input, "input", onInputInput],
    [input, "change", onInputChange],
    [input, "keydown", onInputKeydown],
    [input, "blur", onInputBlur],
    [all, "change", onAllChange],
  ];
  for (const [target, type, listener] of listeners) {
    target.addEventListener(type, listener);
  }

  function update(histogram: Histogram | null): void {
    const sweep = histogram === null ? null : sweepOf(histogram);
    if (histogram === null || sweep === null || sweep.numPoints <= 0) {
      forget();
      experiment = -1;
      shown = { point: -1, numPoints: 0, shape: [], values: [] };
      root.hidden = true;
      return;
    }
    if (histogram.experiment !== experiment) {
      forget(); // another experiment: nothing this view picked applies to it
      experiment = histogram.experiment;
      resting = 0;
    } else {
      const answered = sent.indexOf(sweep.point);
      if (answered >= 0) {
        sent = sent.slice(answered + 1); // Python handles messages in order
      } else if (sweep.point !== shown.point) {
        forget(); // another view picked this point: it wins
      }
      if (draft !== null && sent.length === 0 && timer === null) {
        draft = null; // every point sent has been shown: the trait is the truth again
      }
    }
    shown = sweep;
    root.hidden = false;
    render();
  }

  return {
    update,
    drop: forget,
    cleanup(): void {
      cancelTimer();
      for (const [target, type, listener] of listeners) {
        target.removeEventListener(type, listener);
      }
    },
  };
}
