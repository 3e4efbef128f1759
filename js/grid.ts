// The chunk grid: one small cell per chunk, built once and then only the changed cells touched.
// One delegated listener per event on the container; the tooltip is a single element.
import { element } from "./dom";
import { Bounds, type ChunkStore, stateName } from "./model";

export type Grid = {
  /** Brings every cell to the store's state; rebuilds only when the number of chunks changed. */
  update(store: ChunkStore): void;
  /** Touches only the given cells. */
  updateCells(store: ChunkStore, changed: readonly number[]): void;
  setSelected(index: number): void;
  setBounds(bounds: Bounds): void;
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

/** The index of the cell an event happened on, or null. */
function cellIndex(grid: HTMLElement, event: Event): number | null {
  const target = event.target;
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

export function createGrid(parent: HTMLElement, onSelect: (index: number) => void): Grid {
  const wrap = element("div", "qjm-grid-wrap");
  const grid = element("div", "qjm-grid");
  grid.setAttribute("aria-label", "Chunks; click one for its details");
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

  function build(size: number): void {
    const fragment = document.createDocumentFragment();
    cells = new Array<HTMLDivElement>(size);
    for (let i = 0; i < size; i++) {
      const cell = element("div", cellClass(0, i === selected));
      cell.setAttribute("data-index", String(i));
      cells[i] = cell;
      fragment.append(cell);
    }
    grid.className = sizeClass(size);
    grid.replaceChildren(fragment);
    hideTooltip();
  }

  function paint(index: number): void {
    const cell = cells[index];
    if (cell !== undefined) {
      const name = cellClass(codes[index] ?? 0, index === selected);
      if (cell.className !== name) {
        cell.className = name;
      }
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
    return `Chunk ${index}${experiments} · ${stateName(codes[index] ?? 0)}`;
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

  grid.addEventListener("mouseover", onMouseOver);
  grid.addEventListener("mouseleave", hideTooltip);
  grid.addEventListener("click", onClick);

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
  }

  function setBounds(next: Bounds): void {
    bounds = next;
    if (hovered >= 0) {
      tooltip.textContent = tooltipText(hovered);
    }
  }

  return {
    update,
    updateCells,
    setSelected,
    setBounds,
    cleanup(): void {
      grid.removeEventListener("mouseover", onMouseOver);
      grid.removeEventListener("mouseleave", hideTooltip);
      grid.removeEventListener("click", onClick);
    },
  };
}
