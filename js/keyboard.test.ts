import { afterEach, describe, expect, it } from "vitest";
import {
  blocks,
  byClass,
  cells,
  detailFor,
  modelFor,
  mount,
  packDelta,
  packStates,
} from "./fake-model";
import { FALLBACK_COLUMNS } from "./grid";
import { navigateCells, targetIndex } from "./keyboard";
import { State } from "./model";

afterEach(() => {
  document.body.replaceChildren();
});

function press(target: Element, key: string, init: KeyboardEventInit = {}): KeyboardEvent {
  const event = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...init });
  target.dispatchEvent(event);
  return event;
}

function focused(): number {
  const active = document.activeElement;
  return active instanceof HTMLElement && active.dataset.index !== undefined
    ? Number(active.dataset.index)
    : -1;
}

function tabStops(root: ParentNode): Element[] {
  return [...root.querySelectorAll('[tabindex="0"]')];
}

/** A bare container of `n` cells, navigable, recording what it was asked to do. */
function bareGrid(n: number, columns = 4) {
  const container = document.createElement("div");
  const items: HTMLElement[] = [];
  for (let i = 0; i < n; i++) {
    const item = document.createElement("span");
    item.dataset.index = String(i);
    items.push(item);
  }
  container.append(...items);
  document.body.append(container);
  const activated: number[] = [];
  let escapes = 0;
  const navigation = navigateCells(container, {
    count: () => items.length,
    cell: (index) => items[index],
    indexOf: (target) =>
      target instanceof HTMLElement && target.dataset.index !== undefined
        ? Number(target.dataset.index)
        : null,
    columns: () => columns,
    onActivate: (index) => activated.push(index),
    onEscape: () => {
      escapes++;
      return true;
    },
  });
  navigation.refresh(false);
  return { container, items, navigation, activated, escapes: () => escapes };
}

describe("targetIndex", () => {
  it("moves by one, by a row, and to the ends, without leaving the cells", () => {
    // 10 cells in rows of 4: 0-3, 4-7, 8-9.
    expect(targetIndex("ArrowRight", 3, 10, 4)).toBe(4);
    expect(targetIndex("ArrowRight", 9, 10, 4)).toBe(9);
    expect(targetIndex("ArrowLeft", 0, 10, 4)).toBe(0);
    expect(targetIndex("ArrowDown", 5, 10, 4)).toBe(9);
    expect(targetIndex("ArrowDown", 7, 10, 4)).toBe(7); // no cell below: stay
    expect(targetIndex("ArrowUp", 9, 10, 4)).toBe(5);
    expect(targetIndex("ArrowUp", 2, 10, 4)).toBe(2);
    expect(targetIndex("Home", 7, 10, 4)).toBe(0);
    expect(targetIndex("End", 1, 10, 4)).toBe(9);
    expect(targetIndex("a", 1, 10, 4)).toBeNull();
    expect(targetIndex("ArrowRight", 0, 0, 4)).toBeNull();
    expect(targetIndex("ArrowDown", 0, 10, 0)).toBe(1); // a bad column count counts as one
  });
});

describe("navigateCells", () => {
  it("is one tab stop that follows the focus", () => {
    const { container, items } = bareGrid(10);
    expect(tabStops(container)).toEqual([items[0]]);
    expect(items.every((item) => item.hasAttribute("tabindex"))).toBe(true);
    items[0]?.focus();
    press(items[0] as HTMLElement, "ArrowRight");
    expect(focused()).toBe(1);
    expect(tabStops(container)).toEqual([items[1]]);
    items[6]?.focus(); // a click focuses a cell too
    expect(tabStops(container)).toEqual([items[6]]);
  });

  it("moves with the arrows, Home and End, and stops those keys there", () => {
    const { items } = bareGrid(10);
    items[0]?.focus();
    const keys: Array<[string, number]> = [
      ["ArrowDown", 4],
      ["ArrowRight", 5],
      ["ArrowDown", 9],
      ["ArrowUp", 5],
      ["ArrowLeft", 4],
      ["End", 9],
      ["Home", 0],
    ];
    for (const [key, expected] of keys) {
      const event = press(document.activeElement as HTMLElement, key);
      expect([key, focused()]).toEqual([key, expected]);
      expect(event.defaultPrevented).toBe(true);
    }
  });

  it("activates on Enter and Space, escapes on Escape, and leaves other keys alone", () => {
    const grid = bareGrid(5);
    const cell = grid.items[3] as HTMLElement;
    cell.focus();
    press(cell, "Enter");
    press(cell, " ");
    press(cell, "Enter", { repeat: true }); // a held key opens it once
    expect(grid.activated).toEqual([3, 3]);
    expect(press(cell, "Escape").defaultPrevented).toBe(true);
    expect(grid.escapes()).toBe(1);
    for (const key of ["Tab", "a"]) {
      expect(press(cell, key).defaultPrevented).toBe(false);
    }
    expect(press(cell, "ArrowRight", { ctrlKey: true }).defaultPrevented).toBe(false);
    expect(focused()).toBe(3);
  });

  it("keeps the tab stop and the focus on the same index when the cells are rebuilt", () => {
    const grid = bareGrid(6);
    (grid.items[4] as HTMLElement).focus();
    const fresh = grid.items.map((_, i) => {
      const item = document.createElement("span");
      item.dataset.index = String(i);
      return item;
    });
    grid.items.splice(0, grid.items.length, ...fresh.slice(0, 5));
    grid.container.replaceChildren(...grid.items);
    grid.navigation.refresh(true);
    expect(focused()).toBe(4);
    expect(tabStops(grid.container)).toEqual([grid.items[4]]);
    grid.navigation.setActive(99);
    expect(grid.navigation.active).toBe(4); // clamped to the last cell
  });

  it("stops listening on cleanup", () => {
    const grid = bareGrid(3);
    (grid.items[0] as HTMLElement).focus();
    grid.navigation.cleanup();
    press(grid.items[0] as HTMLElement, "ArrowRight");
    expect(focused()).toBe(0);
  });
});

describe("the chunk grid by keyboard", () => {
  it("is a listbox of options, one tab stop, each cell named for its chunk", () => {
    const { root } = mount(modelFor([State.done, State.error, State.running]));
    const grid = byClass(root, "qjm-grid");
    expect(grid.getAttribute("role")).toBe("listbox");
    expect(grid.getAttribute("aria-label")).toMatch(/^Chunks/);
    const all = cells(root);
    expect(all.map((c) => c.getAttribute("role"))).toEqual(["option", "option", "option"]);
    expect(all.map((c) => c.getAttribute("aria-label"))).toEqual([
      "chunk 0, done, experiments 0-9",
      "chunk 1, error, experiments 10-19",
      "chunk 2, running, experiments 20-29",
    ]);
    expect(tabStops(root).filter((el) => el.classList.contains("qjm-cell"))).toEqual([all[0]]);
  });

  it("moves the focus with the arrows, by rows of the fallback width without a layout", () => {
    const { root } = mount(modelFor(new Array<number>(25).fill(State.pending)));
    const first = cells(root)[0] as HTMLElement;
    first.focus();
    press(first, "ArrowDown");
    expect(focused()).toBe(FALLBACK_COLUMNS);
    press(document.activeElement as HTMLElement, "ArrowRight");
    expect(focused()).toBe(FALLBACK_COLUMNS + 1);
    press(document.activeElement as HTMLElement, "End");
    expect(focused()).toBe(24);
    press(document.activeElement as HTMLElement, "Home");
    expect(focused()).toBe(0);
  });

  it("selects on Enter or Space as a click does, and Escape clears the selection", () => {
    const { model, root } = mount(modelFor([State.done, State.error, State.done]));
    const cell = cells(root)[1] as HTMLElement;
    cell.focus();
    press(cell, "Enter");
    expect(model.sent).toEqual([{ type: "select", index: 1 }]);
    expect(cell.classList.contains("qjm-selected")).toBe(true);
    expect(cell.getAttribute("aria-selected")).toBe("true");
    expect(byClass(root, "qjm-details-title").textContent).toContain("Chunk 1");
    press(cell, " "); // already selected: Space does not toggle it off
    expect(model.sent).toHaveLength(1);
    press(cell, "Escape");
    expect(model.sent[1]).toEqual({ type: "select", index: -1 });
    expect(cell.getAttribute("aria-selected")).toBe("false");
    expect(press(cell, "Escape").defaultPrevented).toBe(false); // nothing left to clear
    expect(focused()).toBe(1);
  });

  it("keeps the focused cell focused across updates, a rebuild included", () => {
    const { model, root } = mount(modelFor([0, 0, 0, 0]));
    const cell = cells(root)[2] as HTMLElement;
    cell.focus();
    model.update({ delta: packDelta(1, [[2, State.done]]) });
    expect(document.activeElement).toBe(cell);
    expect(cell.getAttribute("aria-label")).toBe("chunk 2, done, experiments 20-29");
    model.update({ states: packStates(2, [0, 0, State.error, 0]) });
    expect(document.activeElement).toBe(cell);
    model.update({ states: packStates(3, [0, 0, 0, 0, 0]), num_chunks: 5 });
    expect(cells(root)).toHaveLength(5);
    expect(focused()).toBe(2);
    expect(document.activeElement).not.toBe(cell); // a new cell, at the same index
  });

  it("moves the tab stop to a chunk selected elsewhere (errors list, kernel)", () => {
    const { model, root } = mount(modelFor([State.done, State.done, State.error]));
    model.update({
      selected_detail: {
        index: 2,
        start: 20,
        end: 20,
        shots: 10,
        state: "error",
        job_id: null,
        attempts: 1,
        error: "boom",
        note: null,
        can_cancel: false,
        can_retry: true,
        points: [2, 100, 199],
      },
    });
    const cell = cells(root)[2] as HTMLElement;
    expect(tabStops(root).filter((el) => el.classList.contains("qjm-cell"))).toEqual([cell]);
    expect(cell.getAttribute("aria-label")).toBe(
      "chunk 2, error, experiments 20-29, points 100-199 of experiment 2",
    );
    const retry = byClass<HTMLButtonElement>(root, "qjm-retry-chunk");
    expect(retry.tagName).toBe("BUTTON");
    expect(retry.getAttribute("aria-label")).toBe("Retry chunk 2");
    expect(byClass(root, "qjm-cancel-chunk").getAttribute("aria-label")).toBe("Cancel chunk 2");
  });

  it("names a sweep's chunks by their points once the errors list tells them", () => {
    const { model, root } = mount(modelFor([State.done, State.error]));
    model.update({
      errors: [
        {
          index: 1,
          start: 0,
          end: 0,
          state: "error",
          error: "x",
          job_id: null,
          attempts: 1,
          points: [0, 5, 5],
        },
      ],
      errors_total: 1,
    });
    expect(cells(root)[1]?.getAttribute("aria-label")).toBe(
      "chunk 1, error, experiments 10-19, points 5 of experiment 0",
    );
  });

  it("labels the set-wide buttons beyond their short text", () => {
    const { root } = mount(modelFor([State.error]));
    for (const [name, label] of [
      ["qjm-cancel-all", "Cancel all chunks"],
      ["qjm-retry-failed", "Retry failed chunks"],
    ]) {
      const el = byClass(root, name as string);
      expect(el.tagName).toBe("BUTTON");
      expect(el.getAttribute("aria-label")).toBe(label);
    }
  });

  it("gives the focus back to the chunk's cell when its focused Retry button is disabled", () => {
    const { model, root } = mount(modelFor([State.done, State.error]));
    const detail = {
      index: 1,
      start: 10,
      end: 19,
      shots: 10,
      state: "error",
      job_id: null,
      attempts: 1,
      error: "boom",
      note: null,
      can_cancel: false,
      can_retry: true,
    };
    model.update({ selected_detail: detail });
    const retry = byClass<HTMLButtonElement>(root, "qjm-retry-chunk");
    retry.focus();
    retry.click();
    expect(model.sent).toEqual([{ type: "retry_chunk", index: 1 }]);
    model.update({ selected_detail: { ...detail, state: "pending", can_retry: false } });
    expect(retry.disabled).toBe(true);
    expect(focused()).toBe(1);
    expect(tabStops(root).filter((el) => el.classList.contains("qjm-cell"))).toEqual([
      cells(root)[1],
    ]);
  });
});

/** The index of the focused block, -1 when the focus is elsewhere. */
function focusedBlock(): number {
  const active = document.activeElement;
  return active instanceof HTMLElement && active.dataset.block !== undefined
    ? Number(active.dataset.block)
    : -1;
}

/** Types `text` into the Go to chunk box and presses Enter there. */
function goTo(root: HTMLElement, text: string): KeyboardEvent {
  const input = byClass<HTMLInputElement>(root, "qjm-goto-input");
  input.focus();
  input.value = text;
  return press(input, "Enter");
}

// jsdom builds 1,000 blocks slowly on a busy machine; this is no timing target.
describe("a set of 20,000 chunks by keyboard (blocks of 20)", { timeout: 30_000 }, () => {
  const large = () => {
    const codes = new Array<number>(20_000).fill(State.pending);
    codes[19_999] = State.error;
    return mount(modelFor(codes));
  };

  it("finds chunk 19,999 by Go to chunk: its block opens, its cell focused, its details asked", () => {
    const { model, root } = large();
    const input = byClass<HTMLInputElement>(root, "qjm-goto-input");
    expect(input.getAttribute("aria-label")).toBe("Go to chunk (0 to 19999)");
    expect(input.max).toBe("19999");
    const event = goTo(root, "19999");
    expect(event.defaultPrevented).toBe(true); // Enter is not the notebook's too
    expect(model.sent).toEqual([{ type: "select", index: 19_999 }]);
    expect(focused()).toBe(19_999);
    expect(byClass(root, "qjm-block-caption").textContent).toBe("Chunks 19980–19999");
    const cell = document.activeElement as HTMLElement;
    expect(cell.getAttribute("aria-label")).toBe("chunk 19999, error, experiments 199990-199999");
    expect(cell.getAttribute("aria-selected")).toBe("true");
    expect(byClass(root, "qjm-details-title").textContent).toContain("Chunk 19999");
    model.update({ selected_detail: detailFor(19_999, { state: "error", can_retry: true }) });
    expect(byClass(root, "qjm-detail-state").textContent).toBe("error");
    expect(byClass(root, "qjm-retry-chunk").getAttribute("aria-label")).toBe("Retry chunk 19999");
    expect(blocks(root)[999]?.getAttribute("aria-selected")).toBe("true");
    expect(focused()).toBe(19_999);
  });

  it("refuses a number outside the set, saying which go, and selects nothing", () => {
    const { model, root } = large();
    const input = byClass<HTMLInputElement>(root, "qjm-goto-input");
    const message = byClass(root, "qjm-goto-message");
    expect(message.getAttribute("role")).toBe("status");
    for (const text of ["20000", "-1", "1.5", "", "1e3"]) {
      goTo(root, text);
      expect([text, input.getAttribute("aria-invalid")]).toEqual([text, "true"]);
      expect(message.textContent).toMatch(/^No chunk .*: chunks are 0–19999$/);
    }
    expect(model.sent).toEqual([]);
    expect(cells(root)).toHaveLength(0);
    goTo(root, "42");
    expect(input.hasAttribute("aria-invalid")).toBe(false);
    expect(message.textContent).toBe("");
    expect(model.sent).toEqual([{ type: "select", index: 42 }]);
  });

  it("reaches the last chunk by arrows alone: End, Enter lists the block, End, Enter", () => {
    const { model, root } = large();
    const grid = byClass(root, "qjm-blocks");
    const stops = () => tabStops(grid);
    expect(stops()).toEqual([blocks(root)[0]]);
    (blocks(root)[0] as HTMLElement).focus();
    press(document.activeElement as HTMLElement, "ArrowDown");
    expect(focusedBlock()).toBe(FALLBACK_COLUMNS);
    press(document.activeElement as HTMLElement, "End");
    expect(focusedBlock()).toBe(999);
    expect(stops()).toEqual([blocks(root)[999]]);
    press(document.activeElement as HTMLElement, "Enter");
    expect(focused()).toBe(19_980); // the block's first chunk, none of it being selected
    expect(model.sent).toEqual([]); // listing a block selects nothing
    press(document.activeElement as HTMLElement, "End");
    expect(focused()).toBe(19_999);
    press(document.activeElement as HTMLElement, "Enter");
    expect(model.sent).toEqual([{ type: "select", index: 19_999 }]);
    expect(tabStops(byClass(root, "qjm-block-chunks"))).toEqual([document.activeElement]);
    // Escape backs up to the block; there, Escape clears the selection.
    press(document.activeElement as HTMLElement, "Escape");
    expect(focusedBlock()).toBe(999);
    expect(model.sent).toHaveLength(1);
    press(document.activeElement as HTMLElement, "Escape");
    expect(model.sent[1]).toEqual({ type: "select", index: -1 });
    // Enter on a block holding the selected chunk focuses that chunk, not the block's first.
    model.update({ selected_detail: detailFor(19_990) });
    press(document.activeElement as HTMLElement, "Enter");
    expect(focused()).toBe(19_990);
  });

  it("opens the block of a chunk selected elsewhere (errors list) and gives it the tab stop", () => {
    const { model, root } = large();
    model.update({
      errors: [
        {
          index: 19_999,
          start: 199_990,
          end: 199_999,
          state: "error",
          error: "boom",
          job_id: null,
          attempts: 1,
        },
      ],
      errors_total: 1,
    });
    const entry = root.querySelector<HTMLElement>('.qjm-error-entry[data-index="19999"]');
    expect(entry).not.toBeNull();
    entry?.click();
    expect(model.sent).toEqual([{ type: "select", index: 19_999 }]);
    const cell = root.querySelector('.qjm-cell[data-index="19999"]');
    expect(cell).not.toBeNull();
    expect(tabStops(byClass(root, "qjm-block-chunks"))).toEqual([cell]);
    expect(tabStops(byClass(root, "qjm-blocks"))).toEqual([blocks(root)[999]]);
  });

  it("gives the focus back to chunk 19,999's cell when its focused Retry button is disabled", () => {
    const { model, root } = large();
    model.update({ selected_detail: detailFor(19_999, { state: "error", can_retry: true }) });
    const retry = byClass<HTMLButtonElement>(root, "qjm-retry-chunk");
    retry.focus();
    retry.click();
    expect(model.sent).toEqual([{ type: "retry_chunk", index: 19_999 }]);
    model.update({ selected_detail: detailFor(19_999, { state: "pending", can_retry: false }) });
    expect(focused()).toBe(19_999);
  });
});
