// The module anywidget loads: its shape, its root, and a cleanup that leaves nothing behind.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { byClass, cells, modelFor, mount, packDelta, sweepHistogram } from "./fake-model";
import { State } from "./model";
import widget from "./widget";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date(1_700_000_030_000));
});
afterEach(() => {
  vi.useRealTimers();
  document.body.replaceChildren();
});

describe("widget module", () => {
  it("exports render and builds every part under one .qjm-widget root", () => {
    expect(typeof widget.render).toBe("function");
    const { el, root } = mount(modelFor([State.running, State.error]));
    expect(root.parentElement).toBe(el);
    for (const part of [
      "qjm-header",
      "qjm-progress",
      "qjm-controls",
      "qjm-grid",
      "qjm-details",
      "qjm-errors",
      "qjm-histogram",
    ]) {
      expect(root.querySelector(`.${part}`), part).not.toBeNull();
    }
  });

  it("removes every model listener, timer and DOM listener on cleanup", () => {
    const { model, root, cleanup } = mount(
      modelFor([State.running, State.error], {
        errors: [
          {
            index: 1,
            start: 10,
            end: 19,
            state: "error",
            error: "boom",
            job_id: null,
            attempts: 1,
          },
        ],
        errors_total: 1,
        selected_detail: {
          index: 0,
          start: 0,
          end: 9,
          shots: 1,
          state: "running",
          job_id: "j",
          attempts: 1,
          error: null,
          note: null,
          can_cancel: true,
          can_retry: true,
        },
      }),
    );
    expect(model.listenerCount).toBeGreaterThan(0);
    expect(vi.getTimerCount()).toBe(1);
    model.update({ delta: packDelta(9, [[0, State.done]]) }); // a gap: leaves a resync pending
    model.sent.length = 0;

    cleanup();
    expect(model.listenerCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);

    const clickables = [
      cells(root)[1],
      byClass(root, "qjm-cancel-all"),
      byClass(root, "qjm-retry-failed"),
      byClass(root, "qjm-cancel-chunk"),
      byClass(root, "qjm-retry-chunk"),
      byClass(root, "qjm-details-close"),
      byClass(root, "qjm-error-entry"),
    ];
    for (const el of clickables) {
      el?.click();
    }
    const select = byClass<HTMLSelectElement>(root, "qjm-experiment-mode");
    select.value = "one";
    select.dispatchEvent(new Event("change"));
    cells(root)[0]?.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(model.sent).toEqual([]);
    expect(byClass(root, "qjm-tooltip").hidden).toBe(true);

    model.update({ delta: packDelta(10, [[1, State.done]]) });
    expect(model.sent).toEqual([]);
    cleanup(); // a second call is harmless
  });

  it("removes every DOM listener it added, and the point picker's pending send", () => {
    type Added = [EventTarget, string, unknown];
    const added: Added[] = [];
    const removed: Added[] = [];
    const add = vi.spyOn(EventTarget.prototype, "addEventListener");
    const remove = vi.spyOn(EventTarget.prototype, "removeEventListener");
    add.mockImplementation(function (this: EventTarget, type, listener) {
      added.push([this, type, listener]);
    });
    remove.mockImplementation(function (this: EventTarget, type, listener) {
      removed.push([this, type, listener]);
    });
    try {
      const { model, root, cleanup } = mount(
        modelFor([State.running], { histogram: sweepHistogram([2, 4]) }),
      );
      expect(byClass(root, "qjm-points").hidden).toBe(false);
      const points = added.filter(([target]) =>
        byClass(root, "qjm-points").contains(target as Node),
      );
      expect(points.map(([, type]) => type).sort()).toEqual([
        "blur",
        "change",
        "change",
        "change",
        "input",
        "input",
        "keydown",
        "keydown",
      ]);
      cleanup();
      const left = added.filter(
        ([target, type, listener]) =>
          !removed.some(([t, y, l]) => t === target && y === type && l === listener),
      );
      expect(left).toEqual([]);
      expect(vi.getTimerCount()).toBe(0);
      expect(model.sent).toEqual([]);
    } finally {
      add.mockRestore();
      remove.mockRestore();
    }
  });

  it("sends nothing from the point picker after cleanup", () => {
    const { model, root, cleanup } = mount(
      modelFor([State.running], { histogram: sweepHistogram([8]) }),
    );
    const slider = byClass<HTMLInputElement>(root, "qjm-point-slider");
    slider.value = "1";
    slider.dispatchEvent(new Event("input"));
    slider.value = "2";
    slider.dispatchEvent(new Event("input")); // waits for the interval: a timer
    expect(model.sent).toHaveLength(1);
    cleanup();
    expect(vi.getTimerCount()).toBe(0);
    for (const [className, type] of [
      ["qjm-point-slider", "change"],
      ["qjm-point-index", "change"],
      ["qjm-all-points", "change"],
    ] as const) {
      const el = byClass<HTMLInputElement>(root, className);
      el.value = "3";
      el.checked = !el.checked;
      el.dispatchEvent(new Event(type));
    }
    vi.runAllTimers();
    expect(model.sent).toHaveLength(1);
  });

  it("renders two views of one model independently, and cleans up each", () => {
    const first = mount(modelFor([0, 0]));
    const el = document.createElement("div");
    const second = widget.render({ model: first.model, el });
    first.model.update({ delta: packDelta(1, [[1, State.done]]) });
    expect(el.querySelectorAll(".qjm-cell.qjm-s-done")).toHaveLength(1);
    expect(first.root.querySelectorAll(".qjm-cell.qjm-s-done")).toHaveLength(1);
    second();
    expect(first.model.listenerCount).toBeGreaterThan(0);
    first.cleanup();
    expect(first.model.listenerCount).toBe(0);
  });
});
