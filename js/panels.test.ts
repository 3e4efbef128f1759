// The panels: controls, details, errors and histogram; what they send and when they refuse.
import { afterEach, describe, expect, it } from "vitest";
import { byClass, modelFor, mount, packDelta } from "./fake-model";
import { buildChart } from "./histogram";
import { type ChunkDetail, type ErrorEntry, State } from "./model";

const XSS = "<img src=x onerror=alert(1)>";

afterEach(() => {
  document.body.replaceChildren();
});

function detail(overrides: Partial<ChunkDetail> = {}): ChunkDetail {
  return {
    index: 1,
    start: 10,
    end: 19,
    shots: 1000,
    state: "running",
    job_id: "job-1",
    attempts: 1,
    error: null,
    note: null,
    can_cancel: true,
    can_retry: false,
    ...overrides,
  };
}

function error(index: number, overrides: Partial<ErrorEntry> = {}): ErrorEntry {
  return {
    index,
    start: 10 * index,
    end: 10 * index + 9,
    state: "error",
    error: "AerError: unbound parameters",
    job_id: `job-${index}`,
    attempts: 1,
    ...overrides,
  };
}

function button(root: HTMLElement, className: string): HTMLButtonElement {
  return byClass<HTMLButtonElement>(root, className);
}

describe("controls", () => {
  it("send cancel_all and retry_failed", () => {
    const { model, root } = mount(modelFor([State.running, State.error]));
    button(root, "qjm-cancel-all").click();
    button(root, "qjm-retry-failed").click();
    expect(model.sent).toEqual([{ type: "cancel_all" }, { type: "retry_failed" }]);
  });

  it("disable Cancel all once every chunk is final", () => {
    const { model, root } = mount(modelFor([State.running, State.done]));
    expect(button(root, "qjm-cancel-all").disabled).toBe(false);
    model.update({ delta: packDelta(1, [[0, State.cancelled]]) });
    expect(button(root, "qjm-cancel-all").disabled).toBe(true);
    button(root, "qjm-cancel-all").click();
    expect(model.sent).toEqual([]);
  });

  it("disable Cancel all where the backend cannot cancel and nothing waits to be submitted", () => {
    const { model, root } = mount(modelFor([State.running, State.waiting], { can_cancel: false }));
    expect(button(root, "qjm-cancel-all").disabled).toBe(false);
    model.update({ delta: packDelta(1, [[1, State.queued]]) });
    expect(button(root, "qjm-cancel-all").disabled).toBe(true);
    model.update({ can_cancel: true });
    expect(button(root, "qjm-cancel-all").disabled).toBe(false);
  });

  it("enable Retry failed only while some chunk failed, errored, was lost or is partial", () => {
    for (const code of [State.error, State.failed, State.lost, State.partial]) {
      const { root } = mount(modelFor([State.done, code]));
      expect(button(root, "qjm-retry-failed").disabled, `state ${code}`).toBe(false);
    }
    const { root } = mount(modelFor([State.done, State.cancelled, State.running]));
    expect(button(root, "qjm-retry-failed").disabled).toBe(true);
  });
});

describe("details", () => {
  it("invite a click while nothing is selected, with no buttons", () => {
    const { root } = mount(modelFor([0]));
    expect(byClass(root, "qjm-details").classList.contains("qjm-empty")).toBe(true);
    expect(byClass(root, "qjm-actions").hidden).toBe(true);
  });

  it("show the selected chunk and send cancel_chunk / retry_chunk for it", () => {
    const { model, root } = mount(modelFor([State.done, State.error]));
    model.update({
      selected_detail: detail({
        state: "error",
        error: XSS,
        note: XSS,
        job_id: XSS,
        can_retry: true,
      }),
    });
    const text = byClass(root, "qjm-details").textContent ?? "";
    expect(text).toContain("Chunk 1");
    expect(text).toContain("10–19");
    expect(text).toContain("1000");
    expect(byClass(root, "qjm-detail-error").textContent).toBe(XSS);
    expect(byClass(root, "qjm-detail-note").textContent).toBe(XSS);
    expect(byClass(root, "qjm-detail-job-id").textContent).toBe(XSS);
    expect(root.querySelector("img")).toBeNull();
    button(root, "qjm-cancel-chunk").click();
    button(root, "qjm-retry-chunk").click();
    expect(model.sent).toEqual([
      { type: "cancel_chunk", index: 1 },
      { type: "retry_chunk", index: 1 },
    ]);
  });

  it("show the points of a sweep a chunk holds beside its experiments, and none if whole", () => {
    const { model, root } = mount(modelFor([State.done, State.done]));
    model.update({ selected_detail: detail({ start: 0, end: 0, points: [0, 2000, 3999] }) });
    const terms = [...root.querySelectorAll(".qjm-details-list dt")].map((dt) => dt.textContent);
    expect(terms.slice(0, 3)).toEqual(["Experiments", "Points", "State"]);
    expect(byClass(root, "qjm-detail-experiments").textContent).toBe("0");
    expect(byClass(root, "qjm-detail-points").textContent).toBe("2000–3999 of experiment 0");
    model.update({ selected_detail: detail({ start: 4, end: 4, points: [4, 7, 7] }) });
    expect(byClass(root, "qjm-detail-points").textContent).toBe("7 of experiment 4");
    for (const points of [null, undefined]) {
      const whole = detail();
      if (points === null) {
        whole.points = null;
      } // undefined: an older kernel sends no points at all
      model.update({ selected_detail: whole });
      expect(root.querySelector(".qjm-detail-points")).toBeNull();
      expect(root.querySelectorAll(".qjm-details-list dt")).toHaveLength(5);
    }
  });

  it("show the chunk's QPU usage when it is a number, and no row when null or missing", () => {
    const { model, root } = mount(modelFor([State.done, State.done]));
    model.update({ selected_detail: detail({ state: "done", usage_seconds: 12.34 }) });
    const terms = () =>
      [...root.querySelectorAll(".qjm-details-list dt")].map((dt) => dt.textContent);
    expect(terms()).toContain("QPU usage");
    expect(byClass(root, "qjm-detail-qpu-usage").textContent).toBe("12.3 s");
    model.update({ selected_detail: detail({ state: "done", usage_seconds: 125 }) });
    expect(byClass(root, "qjm-detail-qpu-usage").textContent).toBe("2 min 5.0 s");
    model.update({ selected_detail: detail({ state: "done", usage_seconds: 0 }) });
    expect(byClass(root, "qjm-detail-qpu-usage").textContent).toBe("0.0 s");
    for (const usage of [null, undefined]) {
      const none = detail({ state: "done" });
      if (usage === null) {
        none.usage_seconds = null;
      } // undefined: an older kernel sends no usage_seconds at all
      model.update({ selected_detail: none });
      expect(root.querySelector(".qjm-detail-qpu-usage")).toBeNull();
      expect(terms()).not.toContain("QPU usage");
      expect(terms()).toHaveLength(5);
    }
  });

  it("disable Retry chunk on a done chunk and Cancel chunk where it cannot cancel", () => {
    const { model, root } = mount(modelFor([State.done]));
    model.update({ selected_detail: detail({ index: 0, state: "done", can_cancel: false }) });
    expect(button(root, "qjm-retry-chunk").disabled).toBe(true);
    expect(button(root, "qjm-cancel-chunk").disabled).toBe(true);
    button(root, "qjm-retry-chunk").click();
    button(root, "qjm-cancel-chunk").click();
    expect(model.sent).toEqual([]);
  });

  it("act on no chunk between a click and the kernel's details for it", () => {
    const { model, root } = mount(modelFor([State.error, State.error]));
    model.update({ selected_detail: detail({ index: 0, state: "error", can_retry: true }) });
    root.querySelector<HTMLElement>('.qjm-cell[data-index="1"]')?.click();
    expect(model.sent).toEqual([{ type: "select", index: 1 }]);
    expect(byClass(root, "qjm-details").textContent).toContain("Loading details");
    button(root, "qjm-retry-chunk").click();
    expect(model.sent).toHaveLength(1);
    model.update({ selected_detail: detail({ index: 1, state: "error", can_retry: true }) });
    button(root, "qjm-retry-chunk").click();
    expect(model.sent[model.sent.length - 1]).toEqual({ type: "retry_chunk", index: 1 });
  });

  it("clear the selection with the close button", () => {
    const { model, root } = mount(modelFor([State.done, State.running]));
    model.update({ selected_detail: detail() });
    button(root, "qjm-details-close").click();
    expect(model.sent).toEqual([{ type: "select", index: -1 }]);
    expect(root.querySelector(".qjm-selected")).toBeNull();
  });
});

describe("errors panel", () => {
  it("hides itself while nothing failed", () => {
    const { root } = mount(modelFor([State.done]));
    expect(byClass(root, "qjm-errors").hidden).toBe(true);
  });

  it("lists each failed chunk as text, hostile strings included", () => {
    const { model, root } = mount(modelFor([0, 0, 0]));
    model.update({
      errors: [
        error(1, { error: XSS, job_id: XSS }),
        error(2, { state: "lost", job_id: null, error: null }),
      ],
      errors_total: 2,
    });
    const entries = [...root.querySelectorAll<HTMLElement>(".qjm-error-entry")];
    expect(entries).toHaveLength(2);
    expect(byClass(entries[0] as HTMLElement, "qjm-error-text").textContent).toBe(XSS);
    expect(byClass(entries[0] as HTMLElement, "qjm-error-meta").textContent).toBe(
      `experiments 10–19 · error · job ${XSS} · 1 attempt`,
    );
    expect(byClass(entries[1] as HTMLElement, "qjm-error-chunk").textContent).toBe("Chunk 2");
    expect(byClass(entries[1] as HTMLElement, "qjm-error-text").textContent).toBe("");
    expect(root.querySelector("img")).toBeNull();
    expect(byClass(root, "qjm-errors-more").hidden).toBe(true);
  });

  it("gives the points of a sweep a failed chunk holds, beside its experiments", () => {
    const { model, root } = mount(modelFor([0, 0, 0]));
    model.update({
      errors: [
        error(0, { start: 0, end: 0, points: [0, 2000, 3999] }),
        error(1, { start: 0, end: 0, points: [0, 4000, 4000] }),
        error(2, { points: null }),
      ],
      errors_total: 3,
    });
    const meta = [...root.querySelectorAll(".qjm-error-meta")].map((m) => m.textContent);
    expect(meta).toEqual([
      "experiments 0 · points 2000–3999 of experiment 0 · error · job job-0 · 1 attempt",
      "experiments 0 · point 4000 of experiment 0 · error · job job-1 · 1 attempt",
      "experiments 20–29 · error · job job-2 · 1 attempt",
    ]);
  });

  it("says how many more there are beyond those listed", () => {
    const { model, root } = mount(modelFor([0, 0]));
    model.update({ errors: [error(0), error(1)], errors_total: 250 });
    expect(byClass(root, "qjm-errors-more").textContent).toBe("… and 248 more");
    expect(byClass(root, "qjm-errors-title").textContent).toBe("250 chunks with errors");
  });

  it("selects a chunk when its entry is clicked", () => {
    const { model, root } = mount(modelFor([0, 0, 0]));
    model.update({ errors: [error(2)], errors_total: 1 });
    byClass(root, "qjm-error-text").click();
    expect(model.sent).toEqual([{ type: "select", index: 2 }]);
    expect(root.querySelector('.qjm-cell[data-index="2"]')?.classList).toContain("qjm-selected");
  });
});

describe("histogram", () => {
  it("draws one bar per outcome plus other, labelled as text", () => {
    const chart = buildChart({
      experiment: -1,
      bars: [
        ["00", 600],
        [XSS, 300],
      ],
      other: 100,
      total: 1000,
    });
    expect(chart.namespaceURI).toBe("http://www.w3.org/2000/svg");
    const bars = [...chart.querySelectorAll(".qjm-bar")];
    expect(bars).toHaveLength(3);
    expect(chart.querySelectorAll(".qjm-bar-other")).toHaveLength(1);
    const labels = [...chart.querySelectorAll(".qjm-bar-label")].map((t) => t.textContent);
    expect(labels).toEqual(["00", "<img src=x onerror=aler…", "other"]);
    const counts = [...chart.querySelectorAll(".qjm-bar-count")].map((t) => t.textContent);
    expect(counts).toEqual(["600 (60.0%)", "300 (30.0%)", "100 (10.0%)"]);
    const widths = [...chart.querySelectorAll("rect")].map((r) => Number(r.getAttribute("width")));
    expect(widths[1]).toBeCloseTo((widths[0] ?? 0) / 2, 6);
    expect(chart.querySelector("img")).toBeNull();
    expect(bars[1]?.querySelector("title")?.textContent).toBe(`${XSS}: 300`);
  });

  it("shows the histogram Python sends and no bar for an empty other", () => {
    const { model, root } = mount(modelFor([0]));
    expect(byClass(root, "qjm-histogram-caption").textContent).toBe(
      "All experiments · no counts yet",
    );
    model.update({ histogram: { experiment: 3, bars: [["101", 7]], other: 0, total: 7 } });
    expect(root.querySelectorAll(".qjm-histogram svg .qjm-bar")).toHaveLength(1);
    expect(byClass(root, "qjm-histogram-caption").textContent).toBe("Experiment 3 · 7 shots");
    expect(byClass<HTMLSelectElement>(root, "qjm-experiment-mode").value).toBe("one");
    expect(byClass<HTMLInputElement>(root, "qjm-experiment-index").value).toBe("3");
  });

  it("sends show_experiment for all (-1) or one experiment, kept in range", () => {
    const { model, root } = mount(modelFor([0, 0])); // 20 experiments
    const select = byClass<HTMLSelectElement>(root, "qjm-experiment-mode");
    const input = byClass<HTMLInputElement>(root, "qjm-experiment-index");
    select.value = "one";
    select.dispatchEvent(new Event("change"));
    expect(input.hidden).toBe(false);
    input.value = "12";
    input.dispatchEvent(new Event("change"));
    input.value = "99";
    input.dispatchEvent(new Event("change"));
    select.value = "all";
    select.dispatchEvent(new Event("change"));
    expect(model.sent).toEqual([
      { type: "show_experiment", index: 0 },
      { type: "show_experiment", index: 12 },
      { type: "show_experiment", index: 19 },
      { type: "show_experiment", index: -1 },
    ]);
    expect(input.hidden).toBe(true);
  });

  it("sends the experiment typed on Enter, once, though change follows on blur", () => {
    const { model, root } = mount(modelFor([0, 0]));
    const select = byClass<HTMLSelectElement>(root, "qjm-experiment-mode");
    const input = byClass<HTMLInputElement>(root, "qjm-experiment-index");
    select.value = "one";
    select.dispatchEvent(new Event("change"));
    input.value = "7";
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    input.dispatchEvent(new Event("change"));
    input.value = "8";
    input.dispatchEvent(new Event("change"));
    expect(model.sent).toEqual([
      { type: "show_experiment", index: 0 },
      { type: "show_experiment", index: 7 },
      { type: "show_experiment", index: 8 },
    ]);
  });
});
