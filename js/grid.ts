// The chunk grid. Up to MAX_CELLS chunks: one small cell per chunk (js/cells.ts). Beyond: one
// cell per block of chunks (js/blocks.ts); a block opened (Enter, Space or a click) lists its
// chunks' cells below, and "Go to chunk N" opens the block of chunk N and focuses its cell, so
// every chunk is a few key presses away and its details one Enter more. Each part is a listbox
// of options with one tab stop (js/keyboard.ts). One delegated listener per event on the
// wrapper; the tooltip is a single element.
import { blockIndexIn, blockSize, countsText, createBlocks, stateCounts } from "./blocks";
import {
  chunkIndexIn,
  chunkTooltip,
  createCells,
  experimentsOf,
  type GridView,
  span,
} from "./cells";
import { element } from "./dom";
import { createGoTo } from "./goto";
import { Bounds, type ChunkStore, type PointRange, pointRange } from "./model";

export { FALLBACK_COLUMNS, layoutColumns } from "./cells";

/** A chunk summary that may say which points of a sweep the chunk holds. */
export type PointsOf = { index: number; points?: PointRange | null };

export type Grid = {
  /** Brings every cell to the store's state; rebuilds only when the number of chunks changed. */
  update(store: ChunkStore): void;
  /** Touches only the cells (or blocks) of the given chunks. */
  updateCells(store: ChunkStore, changed: readonly number[]): void;
  setSelected(index: number): void;
  /** Moves the tab stop to chunk `index`'s cell (opening its block) and focuses it. */
  focusCell(index: number): void;
  setBounds(bounds: Bounds): void;
  /** Records the points of the chunks these summaries describe (a chunk's points never change). */
  setPoints(summaries: readonly PointsOf[]): void;
  cleanup(): void;
};

function sizeClass(size: number): string {
  if (size <= 100) {
    return "qjm-grid qjm-grid-large";
  }
  return size <= 1000 ? "qjm-grid qjm-grid-medium" : "qjm-grid";
}

function listbox(className: string, label: string): HTMLDivElement {
  const box = element("div", className);
  box.setAttribute("role", "listbox");
  box.setAttribute("aria-label", label);
  return box;
}

type Hovered = { kind: "chunk" | "block"; index: number; target: Element };

export function createGrid(parent: HTMLElement, onSelect: (index: number) => void): Grid {
  const wrap = element("div", "qjm-grid-wrap");
  const toolbar = element("div", "qjm-grid-toolbar");
  const caption = element("span", "qjm-grid-caption");
  toolbar.append(caption);
  const goTo = createGoTo(toolbar, goToChunk);
  const grid = listbox(
    "qjm-grid",
    "Chunks: arrow keys move, Enter or Space shows a chunk's details, Escape clears the selection",
  );
  const blockGrid = listbox(
    "qjm-blocks",
    "Blocks of chunks: arrow keys move, Enter or Space lists a block's chunks, " +
      "Escape clears the selection",
  );
  const stripCaption = element("div", "qjm-block-caption");
  const strip = listbox("qjm-block-chunks", "");
  const tooltip = element("div", "qjm-tooltip");
  tooltip.setAttribute("role", "tooltip");
  wrap.append(toolbar, grid, blockGrid, stripCaption, strip, tooltip);
  parent.append(wrap);
  for (const hidden of [toolbar, blockGrid, stripCaption, strip, tooltip]) {
    hidden.hidden = true;
  }

  const view: GridView = {
    codes: new Uint8Array(0),
    bounds: new Bounds(null),
    points: new Map(),
    selected: -1,
  };
  let size = -1;
  let perBlock = 1;
  let open = -1;
  let hovered: Hovered | null = null;

  function activateChunk(index: number): void {
    if (index !== view.selected) {
      onSelect(index);
    }
  }
  function clearSelection(): boolean {
    if (view.selected < 0) {
      return false;
    }
    onSelect(-1);
    return true;
  }
  const cells = createCells(grid, view, { onActivate: activateChunk, onEscape: clearSelection });
  const blocks = createBlocks(blockGrid, view, {
    onActivate: (block) => openBlock(block, true),
    onEscape: clearSelection,
  });
  const stripCells = createCells(strip, view, {
    onActivate: activateChunk,
    onEscape(): boolean {
      // Back up one level, to the block these chunks came from.
      if (open < 0) {
        return false;
      }
      blocks.setActive(open, true);
      return true;
    },
  });

  const blockOf = (index: number): number => Math.floor(index / perBlock);
  const inOpenBlock = (index: number): boolean =>
    index >= 0 && open >= 0 && blockOf(index) === open;

  /** Lists block `block`'s chunks; with `focus`, the focus goes to the selected one or the first. */
  function openBlock(block: number, focus: boolean): void {
    const [first, last] = blocks.range(block);
    if (block !== open) {
      open = block;
      stripCells.show(first, last - first + 1);
      strip.className = `qjm-block-chunks ${last - first < 100 ? "qjm-grid-large" : "qjm-grid-medium"}`;
      strip.setAttribute(
        "aria-label",
        `Chunks ${span(first, last)}: arrow keys move, Enter or Space shows a chunk's details, ` +
          "Escape goes back to the blocks",
      );
      stripCaption.textContent = `Chunks ${first}–${last}`;
      strip.hidden = false;
      stripCaption.hidden = false;
      blocks.setActive(block);
      stripCells.setActive(inOpenBlock(view.selected) ? view.selected : first);
    }
    if (focus) {
      stripCells.setActive(inOpenBlock(view.selected) ? view.selected : first, true);
    }
  }

  function goToChunk(index: number): void {
    openBlock(blockOf(index), false);
    stripCells.setActive(index, true);
    activateChunk(index);
  }

  function rebuild(chunks: number): void {
    size = chunks;
    perBlock = blockSize(chunks);
    const aggregated = perBlock > 1;
    grid.hidden = aggregated;
    blockGrid.hidden = !aggregated;
    toolbar.hidden = !aggregated;
    open = -1;
    strip.hidden = true;
    stripCaption.hidden = true;
    stripCells.show(0, 0);
    if (aggregated) {
      cells.show(0, 0);
      blocks.show(chunks, perBlock);
      caption.textContent =
        `${chunks} chunks in ${Math.ceil(chunks / perBlock)} blocks of ${perBlock}; ` +
        "a block shows its most urgent state, framed where its chunks differ.";
      goTo.setCount(chunks);
      if (view.selected >= 0 && view.selected < chunks) {
        openBlock(blockOf(view.selected), false);
      }
    } else {
      blocks.show(0, 1);
      grid.className = sizeClass(chunks);
      cells.show(0, chunks);
    }
    hideTooltip();
  }

  function tooltipText(shown: Hovered): string {
    if (shown.kind === "chunk") {
      return chunkTooltip(view, shown.index);
    }
    const [first, last] = blocks.range(shown.index);
    const experiments = experimentsOf(view.bounds, first, last).replace("-", "–");
    const range = experiments === "" ? "" : ` · ${experiments}`;
    return `Chunks ${first}–${last}${range} · ${countsText(stateCounts(view.codes, first, last))}`;
  }

  function hoveredAt(target: EventTarget | null): Hovered | null {
    const chunk = chunkIndexIn(grid, target) ?? chunkIndexIn(strip, target);
    if (chunk !== null && target instanceof Element) {
      return { kind: "chunk", index: chunk, target: target.closest("[data-index]") ?? target };
    }
    const block = blockIndexIn(blockGrid, target);
    if (block !== null && target instanceof Element) {
      return { kind: "block", index: block, target: target.closest("[data-block]") ?? target };
    }
    return null;
  }

  function showTooltip(shown: Hovered): void {
    const item = shown.target as HTMLElement;
    const box = item.parentElement;
    if (box === null) {
      hideTooltip();
      return;
    }
    hovered = shown;
    tooltip.textContent = tooltipText(shown);
    tooltip.hidden = false;
    const left = box.offsetLeft + item.offsetLeft - box.scrollLeft;
    const top = box.offsetTop + item.offsetTop - box.scrollTop + item.offsetHeight + 4;
    const maxLeft = Math.max(0, wrap.clientWidth - tooltip.offsetWidth);
    tooltip.style.left = `${Math.min(left, maxLeft)}px`;
    tooltip.style.top = `${top}px`;
  }

  function hideTooltip(): void {
    hovered = null;
    tooltip.hidden = true;
  }

  function refreshTooltip(): void {
    if (hovered !== null) {
      tooltip.textContent = tooltipText(hovered);
    }
  }

  function onMouseOver(event: MouseEvent): void {
    const at = hoveredAt(event.target);
    if (at === null) {
      hideTooltip();
    } else if (at.target !== hovered?.target) {
      showTooltip(at);
    }
  }

  function onClick(event: MouseEvent): void {
    const at = hoveredAt(event.target);
    if (at?.kind === "chunk") {
      onSelect(at.index === view.selected ? -1 : at.index);
    } else if (at?.kind === "block") {
      openBlock(at.index, false);
    }
  }

  // The tooltip follows the keyboard focus too, for who sees the grid but uses no mouse.
  function onFocusIn(event: FocusEvent): void {
    const at = hoveredAt(event.target);
    if (at !== null) {
      showTooltip(at);
    }
  }

  wrap.addEventListener("mouseover", onMouseOver);
  wrap.addEventListener("mouseleave", hideTooltip);
  wrap.addEventListener("click", onClick);
  wrap.addEventListener("focusin", onFocusIn);
  wrap.addEventListener("focusout", hideTooltip);

  function update(store: ChunkStore): void {
    view.codes = store.codes;
    if (store.size !== size) {
      rebuild(store.size);
    } else {
      cells.paintAll();
      blocks.paintAll();
      stripCells.paintAll();
    }
    refreshTooltip();
  }

  function updateCells(store: ChunkStore, changed: readonly number[]): void {
    view.codes = store.codes;
    if (store.size !== size) {
      update(store);
      return;
    }
    if (perBlock > 1) {
      blocks.paintChunks(changed);
    }
    for (const index of changed) {
      cells.paint(index);
      stripCells.paint(index);
    }
    refreshTooltip();
  }

  function setSelected(index: number): void {
    if (index === view.selected) {
      return;
    }
    const previous = view.selected;
    view.selected = index;
    for (const chunk of [previous, index]) {
      cells.paint(chunk);
      stripCells.paint(chunk);
    }
    if (perBlock > 1) {
      blocks.paintChunks([previous, index].filter((chunk) => chunk >= 0));
    }
    if (index < 0) {
      return;
    }
    // Tab comes back to the chunk shown, wherever it was chosen; a strip the user is in stays.
    if (perBlock === 1) {
      if (!cells.hasFocus()) {
        cells.setActive(index);
      }
    } else if (!stripCells.hasFocus() && !blocks.hasFocus()) {
      openBlock(blockOf(index), false);
      stripCells.setActive(index);
    }
  }

  function setBounds(next: Bounds): void {
    view.bounds = next;
    cells.paintAll();
    blocks.paintAll();
    stripCells.paintAll();
    refreshTooltip();
  }

  function setPoints(summaries: readonly PointsOf[]): void {
    for (const summary of summaries) {
      const held = pointRange(summary);
      if (held !== null && !view.points.has(summary.index)) {
        view.points.set(summary.index, held);
        cells.paint(summary.index);
        stripCells.paint(summary.index);
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
      if (perBlock === 1) {
        cells.setActive(index, true);
        return;
      }
      openBlock(blockOf(index), false);
      stripCells.setActive(index, true);
    },
    cleanup(): void {
      wrap.removeEventListener("mouseover", onMouseOver);
      wrap.removeEventListener("mouseleave", hideTooltip);
      wrap.removeEventListener("click", onClick);
      wrap.removeEventListener("focusin", onFocusIn);
      wrap.removeEventListener("focusout", hideTooltip);
      for (const part of [cells, blocks, stripCells, goTo]) {
        part.cleanup();
      }
    },
  };
}
