import { afterEach, describe, expect, it, vi } from "vitest";
import { blockSize, MAX_BLOCKS, MAX_CELLS, mostUrgent } from "./blocks";
import { blocks, byClass, cells, modelFor, mount, packDelta, packStates } from "./fake-model";
import { FALLBACK_COLUMNS, layoutColumns } from "./grid";
import { STATE_NAMES, State } from "./model";
import { SEGMENTS } from "./progress";

const XSS = "<img src=x onerror=alert(1)>";

afterEach(() => {
  document.body.replaceChildren();
});

/** jsdom builds thousands of elements slowly on a busy machine; this is no timing target. */
const LARGE = { timeout: 30_000 };

function hover(cell: Element): void {
  cell.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
}

/** Records every class change under `root` until `collect` is called. */
function watchClasses(root: Element): () => Set<Node> {
  const observer = new MutationObserver(() => {});
  observer.observe(root, { subtree: true, attributes: true, attributeFilter: ["class"] });
  return () => {
    const touched = new Set(observer.takeRecords().map((record) => record.target));
    observer.disconnect();
    return touched;
  };
}

describe("grid", () => {
  it("gives each chunk a cell with its state's class, for every state", () => {
    const codes = STATE_NAMES.map((_, code) => code);
    const { root } = mount(modelFor(codes));
    const all = cells(root);
    expect(all).toHaveLength(codes.length);
    all.forEach((cell, i) => {
      expect(cell.className).toBe(`qjm-cell qjm-s-${STATE_NAMES[i]}`);
      expect(cell.getAttribute("data-index")).toBe(String(i));
    });
  });

  it("sizes the progress segments to the states, summing to 100%", () => {
    const codes = STATE_NAMES.map((_, code) => code);
    const { root } = mount(modelFor(codes));
    const widths = new Map(
      [...root.querySelectorAll<HTMLElement>(".qjm-segment")].map((s) => [
        s.dataset.kind,
        Number.parseFloat(s.style.width),
      ]),
    );
    expect(widths.size).toBe(SEGMENTS.length);
    const sum = [...widths.values()].reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(100, 6);
    expect(widths.get("done")).toBeCloseTo(100 / 11, 6);
    expect(widths.get("failed")).toBeCloseTo(400 / 11, 6); // error, failed, lost, partial
    expect(widths.get("running")).toBeCloseTo(200 / 11, 6); // submitting, running
    expect(widths.get("pending")).toBeCloseTo(200 / 11, 6); // pending, waiting
    expect(byClass(root, "qjm-progress-label").textContent).toContain("6 of 11 chunks final");
    expect(byClass(root, "qjm-progress-bar").getAttribute("title")).toContain("1 done");
  });

  it("shows a tooltip with the chunk, its experiments and its state, as text", () => {
    const { model, root } = mount(modelFor([State.pending, State.running]));
    const tooltip = byClass(root, "qjm-tooltip");
    expect(tooltip.hidden).toBe(true);
    hover(cells(root)[1] as HTMLElement);
    expect(tooltip.hidden).toBe(false);
    expect(tooltip.textContent).toBe("Chunk 1 · experiments 10–19 · running");
    model.update({ delta: packDelta(1, [[1, State.done]]) });
    expect(tooltip.textContent).toBe("Chunk 1 · experiments 10–19 · done");
    byClass(root, "qjm-grid-wrap").dispatchEvent(new MouseEvent("mouseleave"));
    expect(tooltip.hidden).toBe(true);
  });

  it("selects a chunk on click: sends select and marks the cell; a second click clears", () => {
    const { model, root } = mount(modelFor([State.pending, State.running, State.done]));
    const cell = cells(root)[2] as HTMLElement;
    cell.click();
    expect(model.sent).toEqual([{ type: "select", index: 2 }]);
    expect(cell.classList.contains("qjm-selected")).toBe(true);
    cell.click();
    expect(model.sent[model.sent.length - 1]).toEqual({ type: "select", index: -1 });
    expect(cell.classList.contains("qjm-selected")).toBe(false);
  });

  it("follows the selection Python reports", () => {
    const { model, root } = mount(modelFor([State.done, State.error]));
    model.update({
      selected_detail: {
        index: 1,
        start: 10,
        end: 19,
        shots: 100,
        state: "error",
        job_id: null,
        attempts: 1,
        error: "boom",
        note: null,
        can_cancel: false,
        can_retry: true,
      },
    });
    expect(cells(root).map((c) => c.classList.contains("qjm-selected"))).toEqual([false, true]);
    model.update({ selected_detail: {} });
    expect(root.querySelector(".qjm-selected")).toBeNull();
  });

  it("renders 5,000 chunks and touches only the 10 cells a delta changes", LARGE, () => {
    const codes = new Array<number>(5000).fill(State.pending);
    const { model, root } = mount(modelFor(codes));
    const before = cells(root);
    expect(before).toHaveLength(5000);
    const changed = Array.from({ length: 10 }, (_, i) => i * 499);
    const collect = watchClasses(byClass(root, "qjm-grid"));
    model.update({
      delta: packDelta(
        1,
        changed.map((i): [number, number] => [i, State.done]),
      ),
    });
    const touched = collect();
    expect(touched.size).toBe(10);
    expect([...touched]).toEqual(changed.map((i) => before[i]));
    const after = cells(root);
    expect(after.every((cell, i) => cell === before[i])).toBe(true);
    expect(after.filter((c) => c.classList.contains("qjm-s-done"))).toHaveLength(10);
  });

  it("keeps its cells when a snapshot of the same size arrives, repainting only the changed", () => {
    const { model, root } = mount(modelFor([0, 0, 0, 0]));
    const before = cells(root);
    const collect = watchClasses(byClass(root, "qjm-grid"));
    model.update({ states: packStates(9, [0, State.done, 0, State.error]) });
    expect(collect().size).toBe(2);
    expect(cells(root).every((cell, i) => cell === before[i])).toBe(true);
  });

  it("rebuilds when the number of chunks changes", () => {
    const { model, root } = mount(modelFor([0, 0]));
    model.update({ states: packStates(1, [0, 0, 0]), num_chunks: 3 });
    expect(cells(root)).toHaveLength(3);
  });

  it("writes a hostile tooltip nowhere but text (bounds are numbers, state names fixed)", () => {
    const { root } = mount(modelFor([State.error], { name: XSS }));
    hover(cells(root)[0] as HTMLElement);
    expect(root.querySelector("img")).toBeNull();
    expect(byClass(root, "qjm-name").textContent).toBe(XSS);
  });

  it("listens on the grid alone, not on any of its 3,000 cells", LARGE, () => {
    const spy = vi.spyOn(EventTarget.prototype, "addEventListener");
    try {
      const { root } = mount(modelFor(new Array<number>(3000).fill(State.pending)));
      const all = new Set<EventTarget>(cells(root));
      const onCells = spy.mock.contexts.filter((target) => all.has(target as EventTarget));
      expect(onCells).toHaveLength(0);
      const onGrid = spy.mock.contexts.filter((target) => target === byClass(root, "qjm-grid"));
      expect(onGrid.length).toBeGreaterThan(0);
      expect(onGrid.length).toBeLessThan(10);
    } finally {
      spy.mockRestore();
    }
  });

  it("counts the cells of the first row for the column count, or falls back without layout", () => {
    const laidOut = (tops: number[]): HTMLElement[] =>
      tops.map((top) => {
        const cell = document.createElement("div");
        Object.defineProperty(cell, "offsetTop", { value: top });
        Object.defineProperty(cell, "offsetWidth", { value: 10 });
        return cell;
      });
    expect(layoutColumns(laidOut([2, 2, 2, 13, 13, 13, 24]))).toBe(3);
    expect(layoutColumns(laidOut([2, 2]))).toBe(2); // one row
    expect(layoutColumns([document.createElement("div")])).toBe(FALLBACK_COLUMNS); // jsdom
    expect(layoutColumns([])).toBe(FALLBACK_COLUMNS);
  });
});

/** 20,000 chunks, all pending but for the given ones. */
function largeSet(states: ReadonlyArray<[number, number]> = []): number[] {
  const codes = new Array<number>(20_000).fill(State.pending);
  for (const [index, code] of states) {
    codes[index] = code;
  }
  return codes;
}

describe("grid of a large set (blocks of chunks)", LARGE, () => {
  it("keeps a cell per chunk up to 5,000 chunks, then blocks of round sizes, at most 1,000", () => {
    expect(MAX_CELLS).toBe(5000);
    expect(blockSize(1)).toBe(1);
    expect(blockSize(5000)).toBe(1);
    expect(blockSize(5001)).toBe(10); // 2 and 5 would still make more than 1,000
    expect(blockSize(20_000)).toBe(20);
    expect(blockSize(20_001)).toBe(50);
    expect(blockSize(100_000)).toBe(100);
    expect(blockSize(1_000_000)).toBe(1000);
    for (const chunks of [5001, 9999, 20_000, 20_001, 123_457, 1_000_000]) {
      expect(Math.ceil(chunks / blockSize(chunks))).toBeLessThanOrEqual(MAX_BLOCKS);
    }
  });

  it("shows the most urgent state of a block: failures, then chunks in flight, done last", () => {
    const urgent = (...codes: number[]) => mostUrgent(codes.map((code) => [code, 1]));
    expect(urgent(State.done, State.pending, State.error)).toBe(State.error);
    expect(urgent(State.done, State.error, State.failed)).toBe(State.failed);
    expect(urgent(State.done, State.pending, State.running)).toBe(State.running);
    expect(urgent(State.done, State.queued, State.pending)).toBe(State.queued);
    expect(urgent(State.done, State.pending)).toBe(State.pending);
    expect(urgent(State.done, State.cancelled)).toBe(State.cancelled);
    expect(urgent(State.done)).toBe(State.done);
    expect(urgent(State.done, 200)).toBe(State.done); // an unknown code is least urgent
  });

  it("shows 20,000 chunks as 1,000 blocks of 20, each named for what it holds", () => {
    const codes = largeSet([
      ...Array.from({ length: 10 }, (_, i): [number, number] => [i, State.done]),
      [19_999, State.error],
    ]);
    const { root } = mount(modelFor(codes));
    const all = blocks(root);
    expect(all).toHaveLength(1000);
    expect(cells(root)).toHaveLength(0); // no block opened yet
    // Readable: the whole grid is a bounded number of elements, whatever the set's size.
    expect(root.querySelectorAll("*").length).toBeLessThan(1200);
    expect(byClass(root, "qjm-grid").hidden).toBe(true);
    const grid = byClass(root, "qjm-blocks");
    expect(grid.hidden).toBe(false);
    expect(grid.getAttribute("role")).toBe("listbox");
    expect(all.every((block) => block.getAttribute("role") === "option")).toBe(true);
    expect(all[0]?.className).toBe("qjm-block qjm-s-pending qjm-mixed");
    expect(all[0]?.getAttribute("aria-label")).toBe(
      "chunks 0-19, 10 pending, 10 done, experiments 0-199",
    );
    expect(all[1]?.className).toBe("qjm-block qjm-s-pending");
    expect(all[1]?.getAttribute("aria-label")).toBe(
      "chunks 20-39, 20 pending, experiments 200-399",
    );
    expect(all[999]?.className).toBe("qjm-block qjm-s-error qjm-mixed");
    expect(all[999]?.getAttribute("aria-label")).toBe(
      "chunks 19980-19999, 19 pending, 1 error, experiments 199800-199999",
    );
    expect(byClass(root, "qjm-grid-caption").textContent).toBe(
      "20000 chunks in 1000 blocks of 20; a block shows its most urgent state, framed where its " +
        "chunks differ.",
    );
    expect(byClass(root, "qjm-grid-toolbar").hidden).toBe(false);
  });

  it("touches only the blocks of the chunks a delta changes, and keeps its elements", () => {
    const { model, root } = mount(modelFor(largeSet()));
    const before = blocks(root);
    const changed = Array.from({ length: 10 }, (_, i) => i * 1999);
    const collect = watchClasses(byClass(root, "qjm-blocks"));
    model.update({
      delta: packDelta(
        1,
        changed.map((i): [number, number] => [i, State.done]),
      ),
    });
    const touched = collect();
    expect([...touched]).toEqual(changed.map((i) => before[Math.floor(i / 20)]));
    const after = blocks(root);
    expect(after.every((block, i) => block === before[i])).toBe(true);
    expect(after[Math.floor(17_991 / 20)]?.getAttribute("aria-label")).toBe(
      "chunks 17980-17999, 19 pending, 1 done, experiments 179800-179999",
    );
  });

  it("lists a block's chunks when it is clicked; a chunk's cell selects it as before", () => {
    const { model, root } = mount(modelFor(largeSet([[103, State.running]])));
    (blocks(root)[5] as HTMLElement).click();
    const listed = cells(root);
    expect(listed.map((cell) => Number(cell.dataset.index))).toEqual(
      Array.from({ length: 20 }, (_, i) => 100 + i),
    );
    expect(byClass(root, "qjm-block-caption").textContent).toBe("Chunks 100–119");
    expect(byClass(root, "qjm-block-chunks").getAttribute("aria-label")).toMatch(
      /^Chunks 100-119:/,
    );
    expect(listed[3]?.getAttribute("aria-label")).toBe("chunk 103, running, experiments 1030-1039");
    (listed[3] as HTMLElement).click();
    expect(model.sent).toEqual([{ type: "select", index: 103 }]);
    expect(listed[3]?.classList.contains("qjm-selected")).toBe(true);
    expect(blocks(root)[5]?.classList.contains("qjm-selected")).toBe(true);
    model.update({ delta: packDelta(1, [[103, State.done]]) });
    expect(listed[3]?.className).toBe("qjm-cell qjm-s-done qjm-selected");
  });

  it("gives a block's tooltip its chunks, experiments and states, as text", () => {
    const { model, root } = mount(modelFor(largeSet([[101, State.error]])));
    const tooltip = byClass(root, "qjm-tooltip");
    hover(blocks(root)[5] as HTMLElement);
    expect(tooltip.hidden).toBe(false);
    expect(tooltip.textContent).toBe(
      "Chunks 100–119 · experiments 1000–1199 · 19 pending, 1 error",
    );
    model.update({ delta: packDelta(1, [[102, State.done]]) });
    expect(tooltip.textContent).toBe(
      "Chunks 100–119 · experiments 1000–1199 · 18 pending, 1 done, 1 error",
    );
  });

  it("goes back to a cell per chunk when a snapshot makes the set small", () => {
    const { model, root } = mount(modelFor(largeSet()));
    expect(blocks(root)).toHaveLength(1000);
    model.update({ states: packStates(1, [State.done, State.error]), num_chunks: 2 });
    expect(blocks(root)).toHaveLength(0);
    expect(cells(root).map((cell) => cell.className)).toEqual([
      "qjm-cell qjm-s-done",
      "qjm-cell qjm-s-error",
    ]);
    expect(byClass(root, "qjm-grid").hidden).toBe(false);
    expect(byClass(root, "qjm-grid-toolbar").hidden).toBe(true);
  });
});
