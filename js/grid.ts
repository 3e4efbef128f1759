// The chunk grid: one small cell per chunk, built once and then only the changed cells touched.
// One delegated listener per event on the container; the tooltip is a single element.
// A listbox of options with one tab stop: arrows, Home / End, Enter / Space and Escape work as
// js/keyboard.ts says; each cell is named "chunk 12, error, experiments 120-129" (and its points,
// for a chunk holding part of a sweep, once the kernel has said which: errors and details do).
import { element } from "./dom";
import { navigateCells } from "./keyboard";
import { Bounds, type ChunkStore, type PointRange, pointRange, stateName } from "./model";

/** Cells per row when the layout cannot tell (no layout yet, as in jsdom). */
export const FALLBACK_COLUMNS = 10;

/** A chunk summary that may say which points of a sweep the chunk holds. */
export type PointsOf = { index: number; points?: PointRange | null };

export type Grid = {
  /** Brings every cell to the store's state; rebuilds only when the number of chunks changed. */
  update(store: ChunkStore): void;
  /** Touches only the given cells. */
  updateCells(store: ChunkStore, changed: readonly number[]): void;
  setSelected(index: number): void;
  /** Moves the tab stop to cell `index` and focuses it. */
  focusCell(index: number): void;
  setBounds(bounds: Bounds): void;
  /** Records the points of the chunks these summaries describe (a chunk's points never change). */
  setPoints(summaries: readonly PointsOf[]): void;
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

function sizeClass(size: number): string {
  if (size <= 100) {
    return "qjm-grid qjm-grid-large";
  }
  return size <= 1000 ? "qjm-grid qjm-grid-medium" : "qjm-grid";
}

/** The index of the cell an event happened on (or an element is in), or null. */
function cellIndex(grid: HTMLElement, event: Event | Element): number | null {
  const target = event instanceof Element ? event : event.target;
  if (!(target instanceof Element)) {
    return null;
  }
  const cell = target.closest("[data-index]");
  if (cell === null || !grid.contains(cell)) {
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

function span(first: number, last: number): string {
  return first === last ? String(first) : `${first}-${last}`;
}

export function createGrid(parent: HTMLElement, onSelect: (index: number) => void): Grid {
  const wrap = element("div", "qjm-grid-wrap");
  const grid = element("div", "qjm-grid");
  grid.setAttribute("role", "listbox");
  grid.setAttribute(
    "aria-label",
    "Chunks: arrow keys move, Enter or Space shows a chunk's details, Escape clears the selection",
  );
  const tooltip = element("div", "qjm-tooltip");
  tooltip.setAttribute("role", "tooltip");
  tooltip.hidden = true;
  wrap.append(grid, tooltip);
  parent.append(wrap);

  let cells: HTMLDivElement[] = [];
  let codes: Uint8Array = new Uint8Array(0);
  let selected = -1;
  let hovered = -1;
  let bounds = new Bounds(null);
  const points = new Map<number, PointRange>();

  const navigation = navigateCells(grid, {
    count: () => cells.length,
    cell: (index) => cells[index],
    indexOf: (target) => (target instanceof Element ? cellIndex(grid, target) : null),
    columns: () => layoutColumns(cells),
    onActivate(index) {
      if (index !== selected) {
        onSelect(index);
      }
    },
    onEscape() {
      if (selected < 0) {
        return false;
      }
      onSelect(-1);
      return true;
    },
  });

  /** The accessible name: "chunk 12, error, experiments 120-129[, points 0-99 of experiment 3]". */
  function label(index: number): string {
    const range = bounds.get(index);
    let text = `chunk ${index}, ${stateName(codes[index] ?? 0)}`;
    if (range !== null) {
      text +=
        range[0] === range[1] ? `, experiment ${range[0]}` : `, experiments ${span(...range)}`;
    }
    const held = points.get(index);
    if (held !== undefined) {
      text += `, points ${span(held[1], held[2])} of experiment ${held[0]}`;
    }
    return text;
  }

  function build(size: number): void {
    const hadFocus = navigation.hasFocus();
    const fragment = document.createDocumentFragment();
    cells = new Array<HTMLDivElement>(size);
    for (let i = 0; i < size; i++) {
      const cell = element("div", cellClass(0, i === selected));
      cell.setAttribute("data-index", String(i));
      cell.setAttribute("role", "option");
      cell.setAttribute("aria-selected", String(i === selected));
      cells[i] = cell;
      fragment.append(cell);
    }
    grid.className = sizeClass(size);
    grid.replaceChildren(fragment);
    navigation.refresh(hadFocus);
    hideTooltip();
  }

  function paint(index: number): void {
    const cell = cells[index];
    if (cell !== undefined) {
      const name = cellClass(codes[index] ?? 0, index === selected);
      if (cell.className !== name) {
        cell.className = name;
        cell.setAttribute("aria-selected", String(index === selected));
      }
      relabel(index);
    }
  }

  function relabel(index: number): void {
    const cell = cells[index];
    const text = label(index);
    if (cell !== undefined && cell.getAttribute("aria-label") !== text) {
      cell.setAttribute("aria-label", text);
    }
  }

  function tooltipText(index: number): string {
    const range = bounds.get(index);
    const experiments =
      range === null
        ? ""
        : range[0] === range[1]
          ? ` · experiment ${range[0]}`
          : ` · experiments ${range[0]}–${range[1]}`;
    const held = points.get(index);
    const sweep =
      held === undefined
        ? ""
        : ` · points ${held[1] === held[2] ? held[1] : `${held[1]}–${held[2]}`}`;
    return `Chunk ${index}${experiments}${sweep} · ${stateName(codes[index] ?? 0)}`;
  }

  function showTooltip(index: number): void {
    const cell = cells[index];
    if (cell === undefined) {
      hideTooltip();
      return;
    }
    hovered = index;
    tooltip.textContent = tooltipText(index);
    tooltip.hidden = false;
    const left = grid.offsetLeft + cell.offsetLeft - grid.scrollLeft;
    const top = grid.offsetTop + cell.offsetTop - grid.scrollTop + cell.offsetHeight + 4;
    const maxLeft = Math.max(0, wrap.clientWidth - tooltip.offsetWidth);
    tooltip.style.left = `${Math.min(left, maxLeft)}px`;
    tooltip.style.top = `${top}px`;
  }

  function hideTooltip(): void {
    hovered = -1;
    tooltip.hidden = true;
  }

  function onMouseOver(event: MouseEvent): void {
    const index = cellIndex(grid, event);
    if (index === null) {
      hideTooltip();
    } else if (index !== hovered) {
      showTooltip(index);
    }
  }

  function onClick(event: MouseEvent): void {
    const index = cellIndex(grid, event);
    if (index !== null) {
      onSelect(index === selected ? -1 : index);
    }
  }

  // The tooltip follows the keyboard focus too, for who sees the grid but uses no mouse.
  function onFocusIn(event: FocusEvent): void {
    const index = cellIndex(grid, event);
    if (index !== null) {
      showTooltip(index);
    }
  }

  grid.addEventListener("mouseover", onMouseOver);
  grid.addEventListener("mouseleave", hideTooltip);
  grid.addEventListener("click", onClick);
  grid.addEventListener("focusin", onFocusIn);
  grid.addEventListener("focusout", hideTooltip);

  function update(store: ChunkStore): void {
    codes = store.codes;
    if (cells.length !== store.size) {
      build(store.size);
    }
    for (let i = 0; i < cells.length; i++) {
      paint(i);
    }
    if (hovered >= 0) {
      tooltip.textContent = tooltipText(hovered);
    }
  }

  function updateCells(store: ChunkStore, changed: readonly number[]): void {
    codes = store.codes;
    if (cells.length !== store.size) {
      update(store);
      return;
    }
    for (const index of changed) {
      paint(index);
      if (index === hovered) {
        tooltip.textContent = tooltipText(index);
      }
    }
  }

  function setSelected(index: number): void {
    if (index === selected) {
      return;
    }
    const previous = selected;
    selected = index;
    paint(previous);
    paint(index);
    if (index >= 0 && !navigation.hasFocus()) {
      navigation.setActive(index); // Tab comes back to the chunk shown, wherever it was chosen
    }
  }

  function setBounds(next: Bounds): void {
    bounds = next;
    for (let i = 0; i < cells.length; i++) {
      relabel(i);
    }
    if (hovered >= 0) {
      tooltip.textContent = tooltipText(hovered);
    }
  }

  function setPoints(summaries: readonly PointsOf[]): void {
    for (const summary of summaries) {
      const held = pointRange(summary);
      if (held !== null && !points.has(summary.index)) {
        points.set(summary.index, held);
        relabel(summary.index);
      }
    }
  }

  return {
    update,
    updateCells,
    setSelected,
    setBounds,
    setPoints,
    focusCell(index: number): void {
      navigation.setActive(index, true);
    },
    cleanup(): void {
      grid.removeEventListener("mouseover", onMouseOver);
      grid.removeEventListener("mouseleave", hideTooltip);
      grid.removeEventListener("click", onClick);
      grid.removeEventListener("focusin", onFocusIn);
      grid.removeEventListener("focusout", hideTooltip);
      navigation.cleanup();
    },
  };
}
