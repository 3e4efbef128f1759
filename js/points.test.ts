// The point picker of a sweep: when it shows, what it sends (and how often), what it says of the
// point shown, and that the `histogram` trait stays the truth.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { byClass, type FakeModel, modelFor, mount, sweepHistogram } from "./fake-model";
import type { Histogram } from "./model";
import { formatValue, POINT_SEND_INTERVAL_MS, valuesText } from "./points";
import widget from "./widget";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date(1_700_000_030_000));
});
afterEach(() => {
  vi.useRealTimers();
  document.body.replaceChildren();
});

function picker(root: HTMLElement) {
  return {
    box: byClass(root, "qjm-points"),
    all: byClass<HTMLInputElement>(root, "qjm-all-points"),
    input: byClass<HTMLInputElement>(root, "qjm-point-index"),
    slider: byClass<HTMLInputElement>(root, "qjm-point-slider"),
    count: byClass(root, "qjm-point-count"),
    multi: byClass(root, "qjm-point-multi-index"),
    values: byClass(root, "qjm-point-values"),
    caption: byClass(root, "qjm-histogram-caption"),
  };
}

function set(el: HTMLInputElement, value: number | string, ...events: string[]): void {
  el.value = String(value);
  for (const type of events) {
    el.dispatchEvent(new Event(type));
  }
}

function check(el: HTMLInputElement, checked: boolean): void {
  el.checked = checked;
  el.dispatchEvent(new Event("change"));
}

/** Python's answer to show_experiment: the histogram of that point. */
function answer(model: FakeModel, point: number, overrides: Partial<Histogram> = {}): void {
  const values = point < 0 ? {} : { t0: point, t1: 0 };
  model.update({ histogram: sweepHistogram([8], { point, values, ...overrides }) });
}

function sweep(histogram: Histogram = sweepHistogram([8])) {
  const mounted = mount(modelFor([0], { histogram }));
  return { ...mounted, ...picker(mounted.root) };
}

describe("point picker", () => {
  it("stays hidden for a bound experiment, all experiments, and an old-shaped histogram", () => {
    const { model, box } = sweep({ experiment: -1, bars: [], other: 0, total: 0 });
    expect(box.hidden).toBe(true);
    const bound = { experiment: 3, point: -1, num_points: 0, shape: [], values: {} };
    model.update({ histogram: { ...bound, bars: [["1", 5]], other: 0, total: 5 } });
    expect(box.hidden).toBe(true);
    model.update({ histogram: { experiment: 3, bars: [["1", 5]], other: 0, total: 5 } });
    expect(box.hidden).toBe(true);
    model.update({ histogram: sweepHistogram([8], { experiment: -1 }) }); // num_points ignored
    expect(box.hidden).toBe(true);
    expect(model.sent).toEqual([]);
  });

  it("shows for an experiment with points, up to the last point, all points by default", () => {
    const { box, all, input, slider, count, values, caption } = sweep();
    expect(box.hidden).toBe(false);
    expect(input.max).toBe("7");
    expect(slider.max).toBe("7");
    expect(input.min).toBe("0");
    expect(count.textContent).toBe("of 8");
    expect(all.checked).toBe(true);
    expect(values.hidden).toBe(true);
    expect(caption.textContent).toBe("Experiment 0 · all 8 points · 50 shots");
  });

  it("keeps the slider and the number input in step", () => {
    const { input, slider, all } = sweep();
    set(slider, 6, "input");
    expect(input.value).toBe("6");
    expect(all.checked).toBe(false);
    set(input, 3, "input");
    expect(slider.value).toBe("3");
    set(input, 2, "input", "change");
    expect(slider.value).toBe("2");
    set(input, 99, "input", "change"); // kept in range
    expect(input.value).toBe("7");
    expect(slider.value).toBe("7");
  });

  it("sends show_experiment with the point, and -1 for all points", () => {
    const { model, input, all } = sweep();
    set(input, 5, "input", "change");
    answer(model, 5);
    check(all, true);
    answer(model, -1);
    check(all, false); // back to the point in the input
    expect(model.sent).toEqual([
      { type: "show_experiment", index: 0, point: 5 },
      { type: "show_experiment", index: 0, point: -1 },
      { type: "show_experiment", index: 0, point: 5 },
    ]);
  });

  it("sends at most one message per interval while the slider is dragged", () => {
    const { model, slider } = sweep();
    for (let point = 1; point <= 7; point++) {
      set(slider, point, "input");
      vi.advanceTimersByTime(20);
    }
    // The first move at once, then the latest position once the interval is over.
    expect(model.sent).toEqual([{ type: "show_experiment", index: 0, point: 1 }]);
    vi.advanceTimersByTime(POINT_SEND_INTERVAL_MS);
    expect(model.sent.map((m) => ("point" in m ? m.point : null))).toEqual([1, 7]);
    set(slider, 7, "change"); // already sent: not again
    set(slider, 4, "input");
    set(slider, 4, "change"); // the release sends at once
    expect(model.sent.map((m) => ("point" in m ? m.point : null))).toEqual([1, 7, 4]);
    vi.runOnlyPendingTimers();
    expect(model.sent).toHaveLength(3);
  });

  it("holds the user's point while Python answers older messages, then follows the trait", () => {
    const { model, slider, input, values } = sweep();
    set(slider, 2, "input");
    vi.advanceTimersByTime(POINT_SEND_INTERVAL_MS);
    set(slider, 6, "input", "change");
    expect(model.sent.map((m) => ("point" in m ? m.point : null))).toEqual([2, 6]);
    answer(model, 2); // the answer to the first message: the slider does not jump back
    expect(slider.value).toBe("6");
    expect(values.textContent).toBe("…");
    answer(model, 6);
    expect(values.textContent).toBe("t0 = 6, t1 = 0");
    answer(model, 3); // another view picked point 3: this one shows it too
    expect(slider.value).toBe("3");
    expect(input.value).toBe("3");
    expect(values.textContent).toBe("t0 = 3, t1 = 0");
  });

  it("shows what a second view of the same model shows", () => {
    const first = sweep();
    const el = document.createElement("div");
    document.body.append(el);
    const cleanup = widget.render({ model: first.model, el });
    const second = picker(el);
    set(first.slider, 4, "input", "change");
    answer(first.model, 4);
    for (const view of [first, second]) {
      expect(view.slider.value).toBe("4");
      expect(view.input.value).toBe("4");
      expect(view.all.checked).toBe(false);
      expect(view.values.textContent).toBe("t0 = 4, t1 = 0");
    }
    cleanup();
  });

  it("shows the parameter values of the point shown", () => {
    const { model, values, caption } = sweep();
    model.update({
      histogram: sweepHistogram([8], {
        point: 5,
        values: { t0: Math.PI, t1: 0, t2: -Math.PI / 2 },
        bars: [["101", 50]],
      }),
    });
    expect(values.hidden).toBe(false);
    expect(values.textContent).toBe("t0 = 3.1416, t1 = 0, t2 = -1.5708");
    expect(caption.textContent).toBe("Experiment 0 · point 5 · 50 shots");
  });

  it("shows the multi-index of a point of a 2-D sweep, and none for a 1-D one", () => {
    const { model, multi, input, slider } = sweep(sweepHistogram([2, 4], { point: 5 }));
    expect(multi.hidden).toBe(false);
    expect(multi.textContent).toBe("index (1, 1) of shape (2, 4)");
    set(slider, 3, "input"); // follows the slider before Python answers
    expect(multi.textContent).toBe("index (0, 3) of shape (2, 4)");
    model.update({ histogram: sweepHistogram([2, 3, 4], { point: 23 }) });
    expect(multi.textContent).toBe("index (1, 2, 3) of shape (2, 3, 4)");
    expect(input.max).toBe("23");
    model.update({ histogram: sweepHistogram([8], { point: 5 }) });
    expect(multi.hidden).toBe(true);
  });

  it("hides when the experiment shown has no points, dropping a move not yet sent", () => {
    const { model, box, slider } = sweep();
    set(slider, 1, "input");
    set(slider, 2, "input"); // within the interval: waits
    expect(model.sent).toHaveLength(1);
    model.update({
      histogram: { experiment: 1, point: -1, num_points: 0, shape: [], values: {}, ...empty },
    });
    expect(box.hidden).toBe(true);
    vi.runOnlyPendingTimers();
    expect(model.sent).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(1); // the header's clock only
  });

  it("keeps the slider's arrow keys from JupyterLab's shortcuts, and no other key", () => {
    const { root, slider } = sweep();
    const reached: string[] = [];
    const listener = (event: KeyboardEvent): void => {
      reached.push(event.key);
    };
    root.addEventListener("keydown", listener);
    for (const key of ["ArrowLeft", "ArrowDown", "End", "PageUp", "Enter", "a"]) {
      slider.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true }));
    }
    slider.dispatchEvent(
      new KeyboardEvent("keydown", { key: "ArrowLeft", ctrlKey: true, bubbles: true }),
    );
    root.removeEventListener("keydown", listener);
    expect(reached).toEqual(["Enter", "a", "ArrowLeft"]);
  });

  it("sends a typed point on Enter, and not again when the input then loses focus", () => {
    const { model, input } = sweep();
    set(input, "4", "input");
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    expect(model.sent).toEqual([{ type: "show_experiment", index: 0, point: 4 }]);
    input.dispatchEvent(new Event("change")); // Chromium's change, on blur
    answer(model, 4);
    input.dispatchEvent(new Event("change"));
    expect(model.sent).toHaveLength(1);
  });

  it("drops a point not sent yet when another experiment is asked for", () => {
    const { model, root, slider } = sweep();
    set(slider, 1, "input");
    set(slider, 2, "input"); // within the interval: waits
    const input = byClass<HTMLInputElement>(root, "qjm-experiment-index");
    input.value = "3";
    input.dispatchEvent(new Event("change"));
    vi.runOnlyPendingTimers();
    expect(model.sent).toEqual([
      { type: "show_experiment", index: 0, point: 1 },
      { type: "show_experiment", index: 3 },
    ]);
  });

  it("leaves the number input alone while it is typed in", () => {
    const { model, input } = sweep();
    set(input, "1", "input");
    answer(model, -1, { total: 60 }); // a counts update while typing
    expect(input.value).toBe("1");
    input.dispatchEvent(new Event("blur")); // left without committing: back to the trait
    expect(input.value).toBe("0");
    expect(model.sent).toEqual([]);
  });
});

const empty = { bars: [] as Array<[string, number]>, other: 0, total: 0 };

describe("formatting", () => {
  it("writes values short", () => {
    expect(formatValue(Math.PI)).toBe("3.1416");
    expect(formatValue(0)).toBe("0");
    expect(formatValue(-0)).toBe("0");
    expect(formatValue(0.5)).toBe("0.5");
    expect(formatValue(1e-7)).toBe("1.000e-7");
    expect(formatValue(123456)).toBe("1.235e+5");
    expect(formatValue(Number.NaN)).toBe("NaN");
  });

  it("lists at most the given number of parameters", () => {
    const values: Array<[string, number]> = [
      ["a", 1],
      ["b", 2],
      ["c", 3],
    ];
    expect(valuesText(values)).toBe("a = 1, b = 2, c = 3");
    expect(valuesText(values, 2)).toBe("a = 1, b = 2, … (1 more)");
  });
});
