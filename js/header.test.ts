import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { byClass, modelFor, mount } from "./fake-model";
import { estimateEta, formatDuration } from "./header";
import { State } from "./model";

describe("estimateEta", () => {
  it("extrapolates the time per finished chunk to the chunks left", () => {
    expect(estimateEta(100, 1, 4)).toBe(300);
    expect(estimateEta(60, 3, 4)).toBe(20);
  });

  it("is null before anything finished, and 0 once everything has", () => {
    expect(estimateEta(100, 0, 4)).toBeNull();
    expect(estimateEta(100, 4, 4)).toBe(0);
    expect(estimateEta(100, 0, 0)).toBeNull();
    expect(estimateEta(Number.NaN, 1, 4)).toBeNull();
    expect(estimateEta(-1, 1, 4)).toBeNull();
  });
});

describe("formatDuration", () => {
  it("writes seconds, minutes and hours", () => {
    expect(formatDuration(12.4)).toBe("12s");
    expect(formatDuration(185)).toBe("3m 05s");
    expect(formatDuration(7269)).toBe("2h 01m 09s");
    expect(formatDuration(-5)).toBe("0s");
  });
});

describe("header", () => {
  const start = 1_700_000_000;

  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date((start + 10) * 1000));
  });
  afterEach(() => {
    vi.useRealTimers();
    document.body.replaceChildren();
  });

  it("shows the name, backend, id and tags as text", () => {
    const { root } = mount(modelFor([0, 0], { name: "<b>sweep</b>", tags: ["a", "<i>b</i>"] }));
    expect(byClass(root, "qjm-name").textContent).toBe("<b>sweep</b>");
    expect(byClass(root, "qjm-backend").textContent).toBe("on aer_simulator");
    expect(byClass(root, "qjm-id").textContent).toBe("3f2a9c");
    expect([...root.querySelectorAll(".qjm-tag")].map((t) => t.textContent)).toEqual([
      "a",
      "<i>b</i>",
    ]);
    expect(root.querySelector("b, i")).toBeNull();
  });

  it("ticks the elapsed time every second and estimates the time left", () => {
    const { root } = mount(modelFor([State.done, State.running], { started_at: start }));
    expect(byClass(root, "qjm-elapsed").textContent).toBe("Elapsed 10s");
    expect(byClass(root, "qjm-eta").textContent).toBe("ETA ~10s");
    vi.advanceTimersByTime(5000);
    expect(byClass(root, "qjm-elapsed").textContent).toBe("Elapsed 15s");
    expect(byClass(root, "qjm-eta").textContent).toBe("ETA ~15s");
  });

  it("shows the chunk counts per state", () => {
    const { root } = mount(modelFor([State.done, State.done, State.error]));
    const counts = [...root.querySelectorAll(".qjm-count")].map((c) => c.textContent);
    expect(counts).toEqual(["done 2", "error 1"]);
  });

  it("stops the timer once the set has finished, and starts it again if it resumes", () => {
    const { model, root } = mount(modelFor([State.running], { started_at: start }));
    expect(vi.getTimerCount()).toBe(1);
    model.update({ finished_at: start + 8 });
    expect(vi.getTimerCount()).toBe(0);
    expect(byClass(root, "qjm-elapsed").textContent).toBe("Finished in 8s");
    model.update({ finished_at: 0 });
    expect(vi.getTimerCount()).toBe(1);
  });

  it("has no timer when rendered after the set finished", () => {
    mount(modelFor([State.done], { started_at: start, finished_at: start + 3 }));
    expect(vi.getTimerCount()).toBe(0);
  });
});
