// One small cell per chunk, for a run of consecutive chunks: the whole set in the chunk grid,
// or one block's chunks when the grid shows blocks (js/blocks.ts). Built once per run and then
// only the changed cells touched; keyboard navigation as js/keyboard.ts says. Each cell is named
// "chunk 12, error, experiments 120-129" (and its points, for a chunk holding part of a sweep,
// once the kernel has said which: errors and details do).
import { element } from "./dom";
import { navigateCells } from "./keyboard";
import type { Bounds, PointRange } from "./model";
import { stateName } from "./model";

/** Cells per row when the layout cannot tell (no layout yet, as in jsdom). */
export const FALLBACK_COLUMNS = 10;

/** What the cells (and blocks) show, shared by every part of the grid and kept current by it. */
export type GridView = {
  codes: Uint8Array;
  bounds: Bounds;
  /** The points each chunk that holds part of a sweep holds, as far as the kernel said. */
  readonly points: Map<number, PointRange>;
  /** The selected chunk, -1 for none. */
  selected: number;
};

export type CellList = {
  /** Shows the cells of chunks `first` .. `first + count - 1`; rebuilds only for a new run. */
  show(first: number, count: number): void;
  /** Brings chunk `index`'s cell (if shown) to its state, selection and name. */
  paint(index: number): void;
  paintAll(): void;
  /** The cell of chunk `index`, if shown. */
  cell(index: number): HTMLElement | undefined;
  /** Moves the tab stop to chunk `index`'s cell (clamped to the run); focuses it if asked. */
  setActive(index: number, focus?: boolean): void;
  hasFocus(): boolean;
  cleanup(): void;
};

const CLASS_NAMES = new Map<string, string>();

function cellClass(code: number, selected: boolean): string {
  const key = `${code}:${selected}`;
  let name = CLASS_NAMES.get(key);
  if (name === undefined) {
    name = `qjm-cell qjm-s-${stateName(code)}${selected ? " qjm-selected" : ""}`;
    CLASS_NAMES.set(key, name);
  }
  return name;
}

export function span(first: number, last: number): string {
  return first === last ? String(first) : `${first}-${last}`;
}

/** "experiment 3" or "experiments 120-129" for chunks `first` .. `last`, "" without bounds. */
export function experimentsOf(bounds: Bounds, first: number, last: number): string {
  const start = bounds.get(first)?.[0];
  const end = bounds.get(last)?.[1];
  if (start === undefined || end === undefined) {
    return "";
  }
  return start === end ? `experiment ${start}` : `experiments ${span(start, end)}`;
}

/** The accessible name: "chunk 12, error, experiments 120-129[, points 0-99 of experiment 3]". */
export function chunkLabel(view: GridView, index: number): string {
  let text = `chunk ${index}, ${stateName(view.codes[index] ?? 0)}`;
  const experiments = experimentsOf(view.bounds, index, index);
  if (experiments !== "") {
    text += `, ${experiments}`;
  }
  const held = view.points.get(index);
  if (held !== undefined) {
    text += `, points ${span(held[1], held[2])} of experiment ${held[0]}`;
  }
  return text;
}

/** "Chunk 12 · experiments 120–129 · points 0–99 · error". */
export function chunkTooltip(view: GridView, index: number): string {
  const experiments = experimentsOf(view.bounds, index, index).replace("-", "–");
  const held = view.points.get(index);
  const sweep =
    held === undefined
      ? ""
      : ` · points ${held[1] === held[2] ? held[1] : `${held[1]}–${held[2]}`}`;
  const range = experiments === "" ? "" : ` · ${experiments}`;
  return `Chunk ${index}${range}${sweep} · ${stateName(view.codes[index] ?? 0)}`;
}

/** The chunk index of the `[data-index]` cell `target` is in, if that cell is in `container`. */
export function chunkIndexIn(container: HTMLElement, target: EventTarget | null): number | null {
  if (!(target instanceof Element)) {
    return null;
  }
  const cell = target.closest("[data-index]");
  if (cell === null || cell.parentElement !== container) {
    return null;
  }
  const index = Number(cell.getAttribute("data-index"));
  return Number.isInteger(index) && index >= 0 ? index : null;
}

/**
 * Cells per row of a wrapped grid, from the layout: the cells before the first one that starts
 * a new row. FALLBACK_COLUMNS when there is no layout (cells of no width).
 */
export function layoutColumns(cells: readonly HTMLElement[]): number {
  const first = cells[0];
  if (first === undefined || first.offsetWidth === 0) {
    return FALLBACK_COLUMNS;
  }
  const top = first.offsetTop;
  for (let i = 1; i < cells.length; i++) {
    if ((cells[i]?.offsetTop ?? top) > top) {
      return i;
    }
  }
  return cells.length;
}

/**
 * The cells of a run of chunks in `container` (a listbox): Enter or Space on a cell calls
 * `onActivate(chunk index)`, Escape `onEscape` (false: nothing to do, the key goes on).
 */
export function createCells(
  container: HTMLElement,
  view: GridView,
  handlers: { onActivate(index: number): void; onEscape(): boolean },
): CellList {
  let cells: HTMLDivElement[] = [];
  let first = 0;

  const navigation = navigateCells(container, {
    count: () => cells.length,
    cell: (local) => cells[local],
    indexOf: (target) => {
      const index = chunkIndexIn(container, target);
      return index === null ? null : index - first;
    },
    columns: () => layoutColumns(cells),
    onActivate: (local) => handlers.onActivate(first + local),
    onEscape: () => handlers.onEscape(),
  });

  function cell(index: number): HTMLDivElement | undefined {
    return cells[index - first];
  }

  function paint(index: number): void {
    const target = cell(index);
    if (target === undefined) {
      return;
    }
    const selected = index === view.selected;
    const name = cellClass(view.codes[index] ?? 0, selected);
    if (target.className !== name) {
      target.className = name;
      target.setAttribute("aria-selected", String(selected));
    }
    const text = chunkLabel(view, index);
    if (target.getAttribute("aria-label") !== text) {
      target.setAttribute("aria-label", text);
    }
  }

  function show(start: number, count: number): void {
    if (start === first && count === cells.length) {
      return;
    }
    const hadFocus = navigation.hasFocus();
    first = start;
    const fragment = document.createDocumentFragment();
    cells = new Array<HTMLDivElement>(count);
    for (let i = 0; i < count; i++) {
      const target = element("div", "qjm-cell");
      target.setAttribute("data-index", String(start + i));
      target.setAttribute("role", "option");
      cells[i] = target;
      fragment.append(target);
    }
    container.replaceChildren(fragment);
    for (let i = 0; i < count; i++) {
      paint(start + i);
    }
    navigation.refresh(hadFocus);
  }

  return {
    show,
    paint,
    paintAll(): void {
      for (let i = 0; i < cells.length; i++) {
        paint(first + i);
      }
    },
    cell,
    setActive(index: number, focus = false): void {
      navigation.setActive(index - first, focus);
    },
    hasFocus: () => navigation.hasFocus(),
    cleanup: () => navigation.cleanup(),
  };
}
