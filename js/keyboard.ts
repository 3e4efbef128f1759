// Keyboard navigation for a container of many cells (the chunk grid; reusable by any view of
// cells laid out in wrapped rows). One tab stop (roving tabindex): the active cell has
// tabindex="0", every other cell tabindex="-1". One delegated keydown and one focusin listener on
// the container, never one per cell, so a container of thousands of cells stays cheap.
//
// Keys: ArrowLeft / ArrowRight move by one cell, ArrowUp / ArrowDown by one row (`columns()`
// cells), Home / End to the first / last cell, Enter or Space activate the focused cell, Escape
// calls `onEscape`. Handled keys are stopped there, so the host (JupyterLab's notebook shortcuts)
// does not act on them too; every other key (Tab above all) passes through untouched.

/** What the container tells the navigation about its cells. */
export type CellNavigationOptions = {
  /** Number of cells. */
  count(): number;
  /** The element of cell `index`, or undefined when there is none (yet). */
  cell(index: number): HTMLElement | undefined;
  /** The index of the cell an element belongs to, or null when it is not in a cell. */
  indexOf(target: EventTarget | null): number | null;
  /** Cells per row, for ArrowUp / ArrowDown; read on each such key press (layout may change). */
  columns(): number;
  /** Enter or Space on cell `index`. */
  onActivate(index: number): void;
  /** Escape on a cell; false when it had nothing to do, so the key goes on to the host. */
  onEscape(): boolean;
  /**
   * Optional: a key on cell `index` the container handles itself, asked before the navigation
   * acts (the dashboard's rows take ArrowLeft / ArrowRight into their buttons); true when it
   * did, and the key is then stopped there as a handled one.
   */
  onKey?(event: KeyboardEvent, index: number): boolean;
};

export type CellNavigation = {
  /** The index of the cell that holds the tab stop (0 when there are cells, else -1). */
  readonly active: number;
  /** Moves the tab stop to cell `index` (clamped); focuses it if `focus` is true. */
  setActive(index: number, focus?: boolean): void;
  /**
   * Call after the cells were rebuilt: gives the new cells their tabindex and keeps the tab
   * stop (and the focus, if the container had it) on the same index, clamped to the new count.
   */
  refresh(hadFocus: boolean): void;
  /** True when focus is on one of the container's cells. */
  hasFocus(): boolean;
  cleanup(): void;
};

/**
 * The index `key` moves to from `from` among `count` cells in rows of `columns`, or null when
 * `key` is not a navigation key. Left/Right stop at the ends; Up/Down stay put at the first/last
 * row (they never wrap into another column).
 */
export function targetIndex(
  key: string,
  from: number,
  count: number,
  columns: number,
): number | null {
  if (count <= 0) {
    return null;
  }
  const last = count - 1;
  const step = Math.max(1, Math.floor(columns));
  const at = Math.min(Math.max(from, 0), last);
  switch (key) {
    case "ArrowLeft":
      return Math.max(0, at - 1);
    case "ArrowRight":
      return Math.min(last, at + 1);
    case "ArrowUp":
      return at - step >= 0 ? at - step : at;
    case "ArrowDown":
      return at + step <= last ? at + step : at;
    case "Home":
      return 0;
    case "End":
      return last;
    default:
      return null;
  }
}

function isActivation(event: KeyboardEvent): boolean {
  return event.key === "Enter" || event.key === " " || event.key === "Spacebar";
}

/** Makes the cells of `container` keyboard-navigable with one tab stop; see the module comment. */
export function navigateCells(
  container: HTMLElement,
  options: CellNavigationOptions,
): CellNavigation {
  let active = -1;

  function clamp(index: number): number {
    const count = options.count();
    return count === 0 ? -1 : Math.min(Math.max(index, 0), count - 1);
  }

  function setActive(index: number, focus = false): void {
    const next = clamp(index);
    if (next !== active) {
      options.cell(active)?.setAttribute("tabindex", "-1");
      active = next;
    }
    const cell = options.cell(active);
    cell?.setAttribute("tabindex", "0");
    if (focus) {
      cell?.focus();
    }
  }

  function hasFocus(): boolean {
    const focused = container.ownerDocument.activeElement;
    return focused !== null && container.contains(focused) && options.indexOf(focused) !== null;
  }

  function refresh(hadFocus: boolean): void {
    const keep = Math.max(0, active);
    const count = options.count();
    for (let i = 0; i < count; i++) {
      options.cell(i)?.setAttribute("tabindex", "-1");
    }
    active = -1;
    setActive(keep, hadFocus);
  }

  function onKeyDown(event: KeyboardEvent): void {
    if (event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    const from = options.indexOf(event.target);
    if (from === null) {
      return;
    }
    let handled = true;
    if (options.onKey?.(event, from)) {
      // the container's own key
    } else if (isActivation(event)) {
      if (!event.repeat) {
        options.onActivate(from);
      }
    } else if (event.key === "Escape") {
      handled = options.onEscape();
    } else {
      const columns = event.key === "ArrowUp" || event.key === "ArrowDown" ? options.columns() : 1;
      const to = event.shiftKey ? null : targetIndex(event.key, from, options.count(), columns);
      if (to === null) {
        handled = false;
      } else {
        setActive(to, true);
      }
    }
    if (handled) {
      event.preventDefault(); // no page scroll on Space or the arrows
      event.stopPropagation(); // and no notebook shortcut on top
    }
  }

  function onFocusIn(event: FocusEvent): void {
    const index = options.indexOf(event.target);
    if (index !== null && index !== active) {
      setActive(index);
    }
  }

  container.addEventListener("keydown", onKeyDown);
  container.addEventListener("focusin", onFocusIn);

  return {
    get active(): number {
      return active;
    },
    setActive,
    refresh,
    hasFocus,
    cleanup(): void {
      container.removeEventListener("keydown", onKeyDown);
      container.removeEventListener("focusin", onFocusIn);
    },
  };
}
