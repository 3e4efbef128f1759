// The chunk grid of a large set: one cell per block of consecutive chunks instead of one per
// chunk, so 20,000 chunks fit in the grid's box at a glance and an update touches a handful of
// elements. A block shows its most urgent state (failures first, then chunks in flight, then
// those not started, done last) and is framed when its chunks differ; its name says what it
// holds: "chunks 100-119, 12 done, 7 pending, 1 error, experiments 1000-1199".

import { experimentsOf, type GridView, layoutColumns, span } from "./cells";
import { element } from "./dom";
import { navigateCells } from "./keyboard";
import { State, stateName } from "./model";

/** Up to this many chunks the grid has a cell per chunk (measured fine at 5,000 in Chromium). */
export const MAX_CELLS = 5000;
/** Above MAX_CELLS, blocks are the smallest of BLOCK_SIZES that makes at most this many. */
export const MAX_BLOCKS = 1000;

/** Most urgent first: what a block of chunks in several states shows. */
export const URGENCY: readonly number[] = [
  State.failed,
  State.error,
  State.lost,
  State.partial,
  State.running,
  State.submitting,
  State.queued,
  State.waiting,
  State.pending,
  State.cancelled,
  State.done,
];

/**
 * Chunks per block for a set of `chunks`: 1 (a cell per chunk) up to MAX_CELLS, then the
 * smallest of 2, 5, 10, 20, 50, 100, ... that keeps the blocks at most MAX_BLOCKS (round sizes,
 * so a block's range reads well: chunks 19980-19999).
 */
export function blockSize(chunks: number): number {
  if (chunks <= MAX_CELLS) {
    return 1;
  }
  for (let scale = 1; ; scale *= 10) {
    for (const step of [2, 5, 10]) {
      if (Math.ceil(chunks / (step * scale)) <= MAX_BLOCKS) {
        return step * scale;
      }
    }
  }
}

/** How many chunks of `first` .. `last` are in each state present: [code, count], by code. */
export function stateCounts(
  codes: Uint8Array,
  first: number,
  last: number,
): Array<[number, number]> {
  const counts = new Map<number, number>();
  for (let i = first; i <= last && i < codes.length; i++) {
    const code = codes[i] ?? 0;
    counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => a[0] - b[0]);
}

/** The most urgent state of `counts` (unknown codes count as least urgent). */
export function mostUrgent(counts: ReadonlyArray<[number, number]>): number {
  let best = -1;
  let rank = Number.POSITIVE_INFINITY;
  for (const [code] of counts) {
    const at = URGENCY.indexOf(code);
    const r = at < 0 ? URGENCY.length : at;
    if (r < rank) {
      rank = r;
      best = code;
    }
  }
  return best < 0 ? State.pending : best;
}

/** "12 done, 7 pending, 1 error", in the order of the state codes. */
export function countsText(counts: ReadonlyArray<[number, number]>): string {
  return counts.map(([code, n]) => `${n} ${stateName(code)}`).join(", ");
}

export type BlockList = {
  /** Shows `numChunks` chunks in blocks of `size`; rebuilds only when either changed. */
  show(numChunks: number, size: number): void;
  readonly size: number;
  /** First and last chunk of `block`. */
  range(block: number): [number, number];
  /** Brings the blocks holding these chunks to their state (each block once). */
  paintChunks(chunks: readonly number[]): void;
  paintAll(): void;
  block(block: number): HTMLElement | undefined;
  setActive(block: number, focus?: boolean): void;
  hasFocus(): boolean;
  cleanup(): void;
};

/** The block index of the `[data-block]` element `target` is in, if it is in `container`. */
export function blockIndexIn(container: HTMLElement, target: EventTarget | null): number | null {
  if (!(target instanceof Element)) {
    return null;
  }
  const found = target.closest("[data-block]");
  if (found === null || found.parentElement !== container) {
    return null;
  }
  const index = Number(found.getAttribute("data-block"));
  return Number.isInteger(index) && index >= 0 ? index : null;
}

/**
 * The blocks in `container` (a listbox): Enter or Space on a block calls `onActivate(block)`,
 * Escape `onEscape` (false: nothing to do, the key goes on).
 */
export function createBlocks(
  container: HTMLElement,
  view: GridView,
  handlers: { onActivate(block: number): void; onEscape(): boolean },
): BlockList {
  let blocks: HTMLDivElement[] = [];
  let size = 1;
  let numChunks = 0;

  const navigation = navigateCells(container, {
    count: () => blocks.length,
    cell: (index) => blocks[index],
    indexOf: (target) => blockIndexIn(container, target),
    columns: () => layoutColumns(blocks),
    onActivate: (index) => handlers.onActivate(index),
    onEscape: () => handlers.onEscape(),
  });

  function range(block: number): [number, number] {
    const first = block * size;
    return [first, Math.min(numChunks, first + size) - 1];
  }

  function paint(block: number): void {
    const target = blocks[block];
    if (target === undefined) {
      return;
    }
    const [first, last] = range(block);
    const counts = stateCounts(view.codes, first, last);
    const selected = view.selected >= first && view.selected <= last;
    const name =
      `qjm-block qjm-s-${stateName(mostUrgent(counts))}` +
      `${counts.length > 1 ? " qjm-mixed" : ""}${selected ? " qjm-selected" : ""}`;
    if (target.className !== name) {
      target.className = name;
      target.setAttribute("aria-selected", String(selected));
    }
    const experiments = experimentsOf(view.bounds, first, last);
    const text = `chunks ${span(first, last)}, ${countsText(counts)}${experiments === "" ? "" : `, ${experiments}`}`;
    if (target.getAttribute("aria-label") !== text) {
      target.setAttribute("aria-label", text);
    }
  }

  function show(chunks: number, blockOf: number): void {
    if (chunks === numChunks && blockOf === size) {
      return;
    }
    const hadFocus = navigation.hasFocus();
    numChunks = chunks;
    size = Math.max(1, blockOf);
    const count = Math.ceil(chunks / size);
    const fragment = document.createDocumentFragment();
    blocks = new Array<HTMLDivElement>(count);
    for (let i = 0; i < count; i++) {
      const target = element("div", "qjm-block");
      target.setAttribute("data-block", String(i));
      target.setAttribute("role", "option");
      blocks[i] = target;
      fragment.append(target);
    }
    container.replaceChildren(fragment);
    for (let i = 0; i < count; i++) {
      paint(i);
    }
    navigation.refresh(hadFocus);
  }

  return {
    show,
    get size(): number {
      return size;
    },
    range,
    paintChunks(chunks: readonly number[]): void {
      const seen = new Set<number>();
      for (const chunk of chunks) {
        const block = Math.floor(chunk / size);
        if (!seen.has(block)) {
          seen.add(block);
          paint(block);
        }
      }
    },
    paintAll(): void {
      for (let i = 0; i < blocks.length; i++) {
        paint(i);
      }
    },
    block: (index) => blocks[index],
    setActive: (index, focus = false) => navigation.setActive(index, focus),
    hasFocus: () => navigation.hasFocus(),
    cleanup: () => navigation.cleanup(),
  };
}
