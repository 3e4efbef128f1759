import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { byClass, modelFor, mount, packDelta } from "./fake-model";
import {
  estimateEta,
  formatDuration,
  PENDING_LIMIT_TITLE,
  pendingLimitText,
  USAGE_TITLE,
} from "./header";
import { formatQpuSeconds, State, usageOf } from "./model";

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

describe("formatQpuSeconds", () => {
  it("writes tenths of seconds, with minutes from 60 s on", () => {
    expect(formatQpuSeconds(0)).toBe("0.0 s");
    expect(formatQpuSeconds(12.34)).toBe("12.3 s");
    expect(formatQpuSeconds(59.94)).toBe("59.9 s");
    expect(formatQpuSeconds(59.96)).toBe("1 min 0.0 s");
    expect(formatQpuSeconds(60)).toBe("1 min 0.0 s");
    expect(formatQpuSeconds(125)).toBe("2 min 5.0 s");
    expect(formatQpuSeconds(3725.25)).toBe("62 min 5.3 s");
  });
});

describe("usageOf", () => {
  it("reads a number >= 0, and anything else as none reported", () => {
    expect(usageOf(0)).toBe(0);
    expect(usageOf(12.34)).toBe(12.34);
    for (const none of [-1, -0.5, null, undefined, Number.NaN, Number.POSITIVE_INFINITY, "3"]) {
      expect(usageOf(none), String(none)).toBeNull();
    }
  });
});

describe("pendingLimitText", () => {
  it("names a learned limit and the error it was learned from", () => {
    expect(pendingLimitText(3)).toBe("IBM's pending-job limit: 3 jobs (learned from error 3458)");
    expect(pendingLimitText(1)).toBe("IBM's pending-job limit: 1 job (learned from error 3458)");
  });

  it("is null while none is learned (0), and for anything but a positive int", () => {
    for (const none of [0, -1, 2.5, null, undefined, Number.NaN, "3"]) {
      expect(pendingLimitText(none), String(none)).toBeNull();
    }
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
    const counts = [...root.querySelectorAll(".qjm-count:not([hidden])")].map((c) => c.textContent);
    expect(counts).toEqual(["done 2", "error 1"]);
  });

  it("updates the counts in place, hiding a state that no chunk is in any more", () => {
    const { model, root } = mount(modelFor([State.done, State.error, State.error]));
    const parts = [...root.querySelectorAll(".qjm-count")];
    model.update({ delta: packDelta(1, [[1, State.done]]) });
    const shown = () =>
      [...root.querySelectorAll(".qjm-count:not([hidden])")].map((c) => c.textContent);
    expect(shown()).toEqual(["done 2", "error 1"]);
    model.update({ delta: packDelta(2, [[2, State.done]]) });
    expect(shown()).toEqual(["done 3"]);
    const after = [...root.querySelectorAll(".qjm-count")];
    expect(after.length).toBe(parts.length);
    for (const [i, part] of after.entries()) {
      expect(part).toBe(parts[i]);
    }
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

  it("hides the QPU time where the backend reports none (-1)", () => {
    const { root } = mount(modelFor([State.running]));
    const usage = byClass(root, "qjm-usage");
    expect(usage.hidden).toBe(true);
    expect(usage.textContent).toBe("");
  });

  it("shows the QPU time IBM Quantum reports, with a tooltip", () => {
    const { root } = mount(modelFor([State.done], { usage_seconds: 12.34 }));
    const usage = byClass(root, "qjm-usage");
    expect(usage.hidden).toBe(false);
    expect(usage.textContent).toBe("QPU 12.3 s");
    expect(usage.getAttribute("title")).toBe(USAGE_TITLE);
    expect(USAGE_TITLE).toBe("QPU time IBM Quantum reports for this set's jobs");
  });

  it("shows minutes from 60 s of QPU time on", () => {
    const { root } = mount(modelFor([State.done], { usage_seconds: 125 }));
    expect(byClass(root, "qjm-usage").textContent).toBe("QPU 2 min 5.0 s");
  });

  it("updates the QPU time on change:usage_seconds, and hides it again when negative", () => {
    const { model, root } = mount(modelFor([State.running]));
    const usage = byClass(root, "qjm-usage");
    model.update({ usage_seconds: 12.34 });
    expect(usage.hidden).toBe(false);
    expect(usage.textContent).toBe("QPU 12.3 s");
    model.update({ usage_seconds: 125 });
    expect(usage.textContent).toBe("QPU 2 min 5.0 s");
    model.update({ usage_seconds: -1 });
    expect(usage.hidden).toBe(true);
    expect(usage.textContent).toBe("");
  });

  it("hides the QPU time when an older kernel sends no usage_seconds", () => {
    const values: Partial<ReturnType<typeof modelFor>> = modelFor([State.done]);
    delete values.usage_seconds;
    const { root } = mount(values as ReturnType<typeof modelFor>);
    expect(byClass(root, "qjm-usage").hidden).toBe(true);
  });

  it("hides the pending-job limit while none is learned, and for an older kernel", () => {
    const learnedNone = mount(modelFor([State.running], { pending_job_limit: 0 })).root;
    expect(byClass(learnedNone, "qjm-pending-limit").hidden).toBe(true);
    expect(byClass(learnedNone, "qjm-pending-limit").textContent).toBe("");
    const older = mount(modelFor([State.running])).root; // sends no pending_job_limit
    expect(byClass(older, "qjm-pending-limit").hidden).toBe(true);
  });

  it("shows the limit learned on change:pending_job_limit, with a tooltip, as it changes", () => {
    const { model, root } = mount(modelFor([State.pending, State.queued]));
    const limit = byClass(root, "qjm-pending-limit");
    model.update({ pending_job_limit: 3 });
    expect(limit.hidden).toBe(false);
    expect(limit.textContent).toBe("IBM's pending-job limit: 3 jobs (learned from error 3458)");
    expect(limit.getAttribute("title")).toBe(PENDING_LIMIT_TITLE);
    model.update({ pending_job_limit: 4 }); // a probe beyond it succeeded
    expect(limit.textContent).toBe("IBM's pending-job limit: 4 jobs (learned from error 3458)");
    model.update({ pending_job_limit: 0 });
    expect(limit.hidden).toBe(true);
  });

  it("shows a limit already learned when the view is made", () => {
    const { root } = mount(modelFor([State.pending], { pending_job_limit: 2 }));
    expect(byClass(root, "qjm-pending-limit").textContent).toBe(
      "IBM's pending-job limit: 2 jobs (learned from error 3458)",
    );
  });

  it("stops listening for pending_job_limit on cleanup", () => {
    const { model, root, cleanup } = mount(modelFor([State.running]));
    cleanup();
    model.update({ pending_job_limit: 3 });
    expect(byClass(root, "qjm-pending-limit").hidden).toBe(true);
  });

  it("stops listening for usage_seconds on cleanup", () => {
    const { model, root, cleanup } = mount(modelFor([State.running]));
    cleanup();
    model.update({ usage_seconds: 5 });
    expect(byClass(root, "qjm-usage").hidden).toBe(true);
    expect(model.listenerCount).toBe(0);
  });
});
